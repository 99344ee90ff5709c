namespace Conveyor.Logs.Topology;

/// <summary>
/// Rates from counter deltas over a sliding window: samples are taken about once a second, and a rate is the
/// difference between the newest and the oldest sample divided by the time between them.
/// </summary>
/// <remarks>Thread-safe; samples and reads take one small lock.</remarks>
internal sealed class RateWindow
{
    private readonly Lock _lock = new();
    private readonly int _size;
    private readonly Queue<(long Timestamp, Dictionary<string, long> Values)> _samples = new();
    private readonly TimeProvider _time;

    public RateWindow(TimeProvider time, int size = 10)
    {
        _time = time;
        _size = size;
    }

    public void Add(Dictionary<string, long> values)
    {
        lock (_lock)
        {
            _samples.Enqueue((_time.GetTimestamp(), values));
            while (_samples.Count > _size)
            {
                _samples.Dequeue();
            }
        }
    }

    /// <summary>Per second over the window for <paramref name="key"/>; 0 until two samples exist.</summary>
    public double Rate(string key)
    {
        lock (_lock)
        {
            if (_samples.Count < 2)
            {
                return 0;
            }

            var first = _samples.Peek();
            var last = _samples.Last();
            var seconds = _time.GetElapsedTime(first.Timestamp, last.Timestamp).TotalSeconds;
            if (seconds <= 0 || !first.Values.TryGetValue(key, out var a) || !last.Values.TryGetValue(key, out var b))
            {
                return 0;
            }

            return Math.Max(0, b - a) / seconds;
        }
    }
}
