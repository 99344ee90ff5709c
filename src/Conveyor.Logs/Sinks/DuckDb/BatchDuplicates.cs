namespace Conveyor.Logs.Sinks.DuckDb;

/// <summary>
/// Which items of one batch repeat the (stream, position) of an earlier item of that batch (a batch may carry an id
/// twice): the first is kept, the repeats are skipped. Reused from batch to batch (<see cref="Clear"/>); one batch at a
/// time.
/// </summary>
/// <remarks>
/// Each stream of the batch is checked on its own. While the items of a stream kept so far rise in position (what a
/// source sends, even when the batch interleaves several sources), the next one of that stream at a higher position
/// cannot repeat one of them, so no set is needed; the first item of a stream out of that order fills that stream's set
/// with its positions so far, and the set decides for that stream from then on. Consecutive items are mostly of one
/// stream, so the stream is looked up only when it changes.
/// </remarks>
internal sealed class BatchDuplicates
{
    private readonly Dictionary<string, Positions> _streams = new(StringComparer.Ordinal);
    private readonly Stack<Positions> _free = new();
    private Positions? _current;

    /// <summary>Starts a new batch.</summary>
    public void Clear()
    {
        foreach (var s in _streams.Values)
        {
            s.Reset();
            _free.Push(s);
        }

        _streams.Clear();
        _current = null;
    }

    /// <summary>
    /// The stream as a string when (<paramref name="stream"/>, <paramref name="position"/>) is new in this batch, else
    /// null. Every item of one stream in a batch shares one string.
    /// </summary>
    public string? Add(ReadOnlySpan<char> stream, long position)
    {
        if (_current is null || !stream.SequenceEqual(_current.Name))
        {
            _current = Find(stream);
        }

        return _current.Add(position) ? _current.Name : null;
    }

    private Positions Find(ReadOnlySpan<char> stream)
    {
        if (_streams.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(stream, out var found))
        {
            return found;
        }

        var s = _free.Count > 0 ? _free.Pop() : new Positions();
        s.Name = stream.ToString();
        _streams.Add(s.Name, s);
        return s;
    }

    /// <summary>
    /// One stream's positions in this batch: rising so far (only the list), or not (the set decides). The set is empty
    /// exactly while they rise: it is filled with the rising positions, at least one, when the first one does not.
    /// </summary>
    private sealed class Positions
    {
        private readonly List<long> _rising = [];
        private readonly HashSet<long> _seen = [];

        public string Name { get; set; } = "";

        public bool Add(long position)
        {
            if (_seen.Count == 0)
            {
                if (_rising.Count == 0 || position > _rising[^1])
                {
                    _rising.Add(position);
                    return true;
                }

                _seen.UnionWith(_rising);
            }

            return _seen.Add(position);
        }

        public void Reset()
        {
            _rising.Clear();
            _seen.Clear();
        }
    }
}
