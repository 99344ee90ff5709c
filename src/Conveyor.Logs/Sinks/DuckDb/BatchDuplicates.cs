namespace Conveyor.Logs.Sinks.DuckDb;

/// <summary>
/// Which items of one batch repeat the (stream, position) of an earlier item of that batch (a batch may carry an id
/// twice): the first is kept, the repeats are skipped. Reused from batch to batch (<see cref="Clear"/>); one batch at a
/// time.
/// </summary>
/// <remarks>
/// While the items kept so far are one stream in rising positions (what a source sends), the next item of that stream
/// at a higher position cannot repeat one of them, so no set is needed; the first item out of that order fills the set
/// with the positions so far, and the set decides from then on.
/// </remarks>
internal sealed class BatchDuplicates
{
    private readonly HashSet<(string Stream, long Position)> _seen = [];
    private readonly List<(string Stream, long Position)> _rising = [];
    private bool _inOrder = true;
    private string? _stream;

    /// <summary>Starts a new batch.</summary>
    public void Clear()
    {
        _seen.Clear();
        _rising.Clear();
        _inOrder = true;
        _stream = null;
    }

    /// <summary>
    /// The stream as a string when (<paramref name="stream"/>, <paramref name="position"/>) is new in this batch, else
    /// null. Consecutive items of one stream share one string: a batch is mostly one stream.
    /// </summary>
    public string? Add(ReadOnlySpan<char> stream, long position)
    {
        _stream = _stream is not null && stream.SequenceEqual(_stream) ? _stream : stream.ToString();
        if (_inOrder)
        {
            if (_rising.Count == 0 || (string.Equals(_rising[^1].Stream, _stream, StringComparison.Ordinal) && position > _rising[^1].Position))
            {
                _rising.Add((_stream, position));
                return _stream;
            }

            _inOrder = false;
            _seen.UnionWith(_rising);
        }

        return _seen.Add((_stream, position)) ? _stream : null;
    }
}
