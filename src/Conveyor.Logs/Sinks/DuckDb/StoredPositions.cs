using System.Diagnostics;
using System.Globalization;

namespace Conveyor.Logs.Sinks.DuckDb;

/// <summary>A run of stored positions of one stream, both ends included.</summary>
internal readonly record struct PositionRange(long Lo, long Hi);

/// <summary>A run of positions a batch stored, as it is persisted (one row of <c>stored_ranges</c>).</summary>
internal readonly record struct StreamRange(string Stream, long Lo, long Hi);

/// <summary>
/// The set of record positions a store already holds, per stream, as sorted runs: what makes a DuckDB write
/// idempotent without a per-row unique index.
/// </summary>
/// <remarks>
/// <para>An event id is <c>STREAM:POSITION</c> (TCP <c>source:accept-ms:conn#:line#</c>, HTTP
/// <c>source:epoch-ms:request#:line#</c>, UDP <c>source:start-ms:datagram#</c>, stdin <c>stdin:line#</c>, files
/// <c>path:generation:byte-offset</c>): the part after the last colon, when it is a number, is the position in the
/// stream named by the rest. An id without a numeric tail is a stream of its own at position <see cref="NoPosition"/>.</para>
/// <para>What holds: every position inside a run was stored. Runs join only when they touch (<c>hi + 1 = lo</c>), never
/// across a gap, because batches of one stream reach the sink out of order (several parse workers, retries, replays):
/// a single high-water mark would skip the events of a batch that arrives late. Forgetting a run (a stream idle past the
/// window, or more runs than the cap) is always safe: it can only let a very late replay be stored twice, never make an
/// event be skipped.</para>
/// <para>Not thread-safe: owned by the sink's writer, which calls <see cref="Add"/> only after the transaction holding
/// the same runs committed.</para>
/// </remarks>
internal sealed class StoredPositions
{
    /// <summary>The position of an id that has no numeric tail: the whole id is the stream.</summary>
    public const long NoPosition = -1;

    private readonly Dictionary<string, Stream> _streams = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Stream>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly int _maxRangesPerStream;

    public StoredPositions(int maxRangesPerStream)
    {
        _maxRangesPerStream = maxRangesPerStream;
        _lookup = _streams.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Streams remembered.</summary>
    public int StreamCount => _streams.Count;

    /// <summary>Runs remembered, over all streams.</summary>
    public int RangeCount => _streams.Values.Sum(static s => s.Ranges.Count);

    /// <summary>Splits an id into its stream and position (see the remarks).</summary>
    public static (ReadOnlyMemory<char> Stream, long Position) Split(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        var colon = id.LastIndexOf(':');
        if (colon > 0 && colon < id.Length - 1 && colon >= id.Length - 19
            && long.TryParse(id.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var position))
        {
            return (id.AsMemory(0, colon), position);
        }

        return (id.AsMemory(), NoPosition);
    }

    /// <summary>True when <paramref name="position"/> of <paramref name="stream"/> is stored.</summary>
    public bool Contains(ReadOnlySpan<char> stream, long position) =>
        _lookup.TryGetValue(stream, out var s) && IndexOf(s.Ranges, position) >= 0;

    /// <summary>
    /// The runs of the positions <paramref name="positions"/> (any order, no duplicates needed), per stream, sorted:
    /// what a batch adds, to be committed with its rows.
    /// </summary>
    public static List<StreamRange> Coalesce(List<(string Stream, long Position)> positions)
    {
        ArgumentNullException.ThrowIfNull(positions);
        positions.Sort(static (a, b) =>
        {
            var c = string.CompareOrdinal(a.Stream, b.Stream);
            return c != 0 ? c : a.Position.CompareTo(b.Position);
        });
        var runs = new List<StreamRange>();
        foreach (var (stream, position) in positions)
        {
            if (runs.Count > 0 && runs[^1] is var last && string.Equals(last.Stream, stream, StringComparison.Ordinal) && position <= last.Hi + 1)
            {
                runs[^1] = last with { Hi = Math.Max(last.Hi, position) };
            }
            else
            {
                runs.Add(new StreamRange(stream, position, position));
            }
        }

        return runs;
    }

    /// <summary>Adds committed runs (from a batch, or loaded at start-up), joining those that touch.</summary>
    public void Add(IEnumerable<StreamRange> runs, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(runs);
        foreach (var run in runs)
        {
            Debug.Assert(run.Lo <= run.Hi, "a run is never empty");
            if (!_streams.TryGetValue(run.Stream, out var s))
            {
                s = new Stream();
                _streams.Add(run.Stream, s);
            }

            s.LastWritten = now;
            Insert(s.Ranges, new PositionRange(run.Lo, run.Hi));
            if (s.Ranges.Count > _maxRangesPerStream)
            {
                s.Ranges.RemoveRange(0, s.Ranges.Count - _maxRangesPerStream);
            }
        }
    }

    /// <summary>Forgets streams that received nothing since <paramref name="cutoff"/>; returns how many.</summary>
    public int Prune(DateTimeOffset cutoff)
    {
        var stale = _streams.Where(p => p.Value.LastWritten < cutoff).Select(static p => p.Key).ToList();
        foreach (var key in stale)
        {
            _streams.Remove(key);
        }

        return stale.Count;
    }

    /// <summary>Every remembered run, with the time its stream was last written: the compacted form to persist.</summary>
    public IEnumerable<(StreamRange Range, DateTimeOffset LastWritten)> Snapshot()
    {
        foreach (var (stream, s) in _streams)
        {
            foreach (var r in s.Ranges)
            {
                yield return (new StreamRange(stream, r.Lo, r.Hi), s.LastWritten);
            }
        }
    }

    /// <summary>Inserts <paramref name="run"/> into the sorted, disjoint, non-touching <paramref name="ranges"/>.</summary>
    private static void Insert(List<PositionRange> ranges, PositionRange run)
    {
        // First range that ends at or after run.Lo - 1 (could touch or overlap); everything before it stays.
        var first = LowerBound(ranges, run.Lo == long.MinValue ? run.Lo : run.Lo - 1);
        var lo = run.Lo;
        var hi = run.Hi;
        var last = first;
        while (last < ranges.Count && ranges[last].Lo <= (hi == long.MaxValue ? hi : hi + 1))
        {
            lo = Math.Min(lo, ranges[last].Lo);
            hi = Math.Max(hi, ranges[last].Hi);
            last++;
        }

        ranges.RemoveRange(first, last - first);
        ranges.Insert(first, new PositionRange(lo, hi));
        Debug.Assert(IsCanonical(ranges), "runs stay sorted, disjoint and non-touching");
    }

    /// <summary>The index of the first range whose <c>Hi</c> is at least <paramref name="value"/>.</summary>
    private static int LowerBound(List<PositionRange> ranges, long value)
    {
        int lo = 0, hi = ranges.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (ranges[mid].Hi < value)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    private static int IndexOf(List<PositionRange> ranges, long position)
    {
        var i = LowerBound(ranges, position);
        return i < ranges.Count && ranges[i].Lo <= position ? i : -1;
    }

    private static bool IsCanonical(List<PositionRange> ranges)
    {
        for (var i = 0; i < ranges.Count; i++)
        {
            if (ranges[i].Lo > ranges[i].Hi || (i > 0 && ranges[i - 1].Hi + 1 >= ranges[i].Lo))
            {
                return false;
            }
        }

        return true;
    }

    private sealed class Stream
    {
        public List<PositionRange> Ranges { get; } = [];

        public DateTimeOffset LastWritten { get; set; }
    }
}
