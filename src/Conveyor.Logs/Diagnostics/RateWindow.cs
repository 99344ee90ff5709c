namespace Conveyor.Logs.Diagnostics;

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

    /// <summary>Per second over the window for <paramref name="key"/>; 0 until two samples hold it.</summary>
    public double Rate(string key)
    {
        lock (_lock)
        {
            // The oldest sample that knows the key: a source registered after the first sample still gets a rate.
            (long Timestamp, long Value)? first = null;
            (long Timestamp, long Value)? last = null;
            foreach (var (timestamp, values) in _samples)
            {
                if (values.TryGetValue(key, out var v))
                {
                    first ??= (timestamp, v);
                    last = (timestamp, v);
                }
            }

            if (first is not { } a || last is not { } b)
            {
                return 0;
            }

            var seconds = _time.GetElapsedTime(a.Timestamp, b.Timestamp).TotalSeconds;
            return seconds <= 0 ? 0 : Math.Max(0, b.Value - a.Value) / seconds;
        }
    }
}
