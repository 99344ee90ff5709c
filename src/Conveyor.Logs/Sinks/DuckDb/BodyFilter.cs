using System.Numerics;

namespace Conveyor.Logs.Sinks.DuckDb;

/// <summary>
/// A per-block token filter over the body (a Bloom filter of the lowercased body's character trigrams) so a rare word
/// skips the blocks that cannot hold it. A block is one appended batch; its row in <c>body_filters</c> holds the
/// block's time range and the filter, written in the batch's transaction. The filter only prunes: the search still
/// tests <c>contains(lower(body), …)</c> on every row of the blocks it keeps, so the answer stays exact.
/// </summary>
/// <remarks>
/// <para><b>What holds.</b> A body containing a term (case-insensitively) contains every trigram of the lowercased
/// term in its lowercased text, so every bit the term's trigrams hash to is set in its block's filter. Only ASCII terms
/// of three or more characters use the filter: lowercasing ASCII is the same in .NET and DuckDB, and the only other
/// characters whose Unicode lowercase is ASCII (<c>U+0130</c> to <c>i</c>, the Kelvin sign <c>U+212A</c> to
/// <c>k</c>) are lowered here as DuckDB's <c>lower()</c> does. Any other non-ASCII character enters the trigrams as
/// itself, which no ASCII trigram equals. Trigrams do not span bodies.</para>
/// <para><b>Size and false positives.</b> Each trigram sets one bit (k = 1: one multiply per character, which keeps the
/// writer's cost at about half of two hashed bits), at the top 20 bits of a Fibonacci hash, taken modulo the 2^17 bits
/// the batch is hashed into (the 2^20 bits this took before cost a cache miss per trigram, 8 % of the CPU of TCP into
/// DuckDB). While hashing, each of those bits is a byte (128 KiB, in the L2 cache): marking one is a single store
/// where setting a bit is a load, a variable shift and a store, which made the writer's filter 20-25 % faster
/// (<c>BodyFilterBenchmarks</c>); the marks are packed into bits, 64 at a time, once per batch. That array is then folded
/// (halves OR-ed: a position modulo a smaller power of two) to the smallest power of two with at least
/// <see cref="BitsPerTrigram"/> bits per distinct trigram (estimated from the fill), at least 64 bits: about 6 % false
/// positives for one trigram, and roughly that to the power of the term's trigram count for longer terms (about
/// 5e-8 for an eight-letter word), unless a batch has over 8k distinct trigrams and fills the largest filter (a
/// 20,000-line batch of access logs has about 2k: a 4 KiB filter; at 32k distinct trigrams, 4 bits each, one trigram
/// passes ~22 % of blocks, an eight-letter word ~1e-4). A search tests a position modulo the stored filter's size, so
/// filters of any size, these and the 2^20-bit ones written before, answer alike.</para>
/// </remarks>
internal sealed class BodyFilter
{
    /// <summary>The shortest term the filter answers for; shorter terms scan every block.</summary>
    public const int MinTermLength = 3;

    // Positions are of 2^20 bits (what searches compute); a batch is hashed into 2^17 of them (see the remarks).
    private const int PositionBitsLog2 = 20;
    private const int MaxBitsLog2 = 17;
    private const int MaxWords = (1 << MaxBitsLog2) / 64;
    private const uint BitMask = (1u << MaxBitsLog2) - 1;
    private const int MinWords = 1;
    private const int BitsPerTrigram = 16;
    private const ulong Fibonacci = 0x9E3779B97F4A7C15;
    private const byte Marked = 0x80;

    // One byte per bit while a batch is hashed (a mark is one store, where a bit is a load, a shift and a store);
    // packed into bits by Build.
    private readonly byte[] _marks = new byte[1 << MaxBitsLog2];
    private bool _dirty;

    public BodyFilter() => Clear();

    /// <summary>Rows added since <see cref="Clear"/>.</summary>
    public int Rows { get; private set; }

    /// <summary>The earliest time added since <see cref="Clear"/>.</summary>
    public DateTime Lo { get; private set; }

    /// <summary>The latest time added since <see cref="Clear"/>.</summary>
    public DateTime Hi { get; private set; }

    /// <summary>Starts a new block.</summary>
    public void Clear()
    {
        if (_dirty)
        {
            Array.Clear(_marks);
            _dirty = false;
        }

        Rows = 0;
        Lo = DateTime.MaxValue;
        Hi = DateTime.MinValue;
    }

    /// <summary>Adds one row: its body's trigrams and its time (UTC, the <c>ts</c> column's value).</summary>
    public void Add(string body, DateTime ts)
    {
        Rows++;
        Lo = ts < Lo ? ts : Lo;
        Hi = ts > Hi ? ts : Hi;
        ulong key = 0;
        var marks = _marks;
        for (var i = 0; i < body.Length; i++)
        {
            key = (key << 16) | Lower(body[i]);
            if (i >= 2)
            {
                marks[Position(key) & BitMask] = Marked;
            }
        }

        _dirty = true;
    }

    /// <summary>Adds one event's body and time: from its received UTF-8 bytes when it still has them, without decoding them.</summary>
    public void Add(Conveyor.Logs.Model.LogEvent e, DateTime ts)
    {
        if (e.TryGetBodyUtf8(out var utf8))
        {
            Add(utf8, ts);
        }
        else
        {
            Add(e.Body, ts);
        }
    }

    /// <summary>
    /// Adds one row from its body's UTF-8 bytes, setting exactly the bits <see cref="Add(string, DateTime)"/> sets for
    /// the decoded text: the trigrams are of UTF-16 units, so each character is decoded to its unit (two for a
    /// supplementary one), and an invalid sequence becomes the U+FFFD that <see cref="System.Text.Encoding.UTF8"/>
    /// decodes it to (the same maximal-subpart rule as <see cref="System.Text.Rune.DecodeFromUtf8"/>). ASCII, most of
    /// every log line, is found a run at a time (a vector search for the next byte above 0x7F) and hashed in a loop with
    /// no decoding and no branch but the loop's own.
    /// </summary>
    public void Add(ReadOnlySpan<byte> utf8, DateTime ts)
    {
        Rows++;
        Lo = ts < Lo ? ts : Lo;
        Hi = ts > Hi ? ts : Hi;
        ulong key = 0;
        var units = 0;
        var marks = _marks;
        var i = 0;
        Span<char> chars = stackalloc char[2];
        while (i < utf8.Length)
        {
            var ascii = utf8[i..].IndexOfAnyExceptInRange((byte)0, (byte)0x7F);
            var end = ascii < 0 ? utf8.Length : i + ascii;

            // The units before the first full trigram only fill the key; from then on every unit ends a trigram.
            for (; i < end && units < 2; i++, units++)
            {
                key = (key << 16) | LowerAscii(utf8[i]);
            }

            for (; i < end; i++)
            {
                key = (key << 16) | LowerAscii(utf8[i]);
                marks[Position(key) & BitMask] = Marked;
            }

            if (i == utf8.Length)
            {
                break;
            }

            System.Text.Rune.DecodeFromUtf8(utf8[i..], out var rune, out var consumed);
            i += consumed;
            var n = rune.EncodeToUtf16(chars);
            for (var c = 0; c < n; c++)
            {
                key = (key << 16) | Lower(chars[c]);
                if (++units >= 3)
                {
                    marks[Position(key) & BitMask] = Marked;
                }
            }
        }

        _dirty = true;
    }

    /// <summary>The filter of the rows added since <see cref="Clear"/>, folded to its size (see the remarks).</summary>
    public ulong[] Build()
    {
        // Bit j of word i is mark 64 i + j: the top bits of 64 marks at a time.
        var bits = new ulong[MaxWords];
        long set = 0;
        for (var i = 0; i < MaxWords; i++)
        {
            bits[i] = System.Runtime.Intrinsics.Vector512.ExtractMostSignificantBits(System.Runtime.Intrinsics.Vector512.Create<byte>(_marks.AsSpan(i * 64, 64)));
            set += BitOperations.PopCount(bits[i]);
        }

        // Distinct trigrams from the fill of m bits with k = 1: n = -m ln(1 - fill).
        const double M = 1 << MaxBitsLog2;
        var fill = Math.Min(set / M, 1 - (1 / M));
        var distinct = -M * Math.Log(1 - fill);
        var words = MinWords;
        while (words < MaxWords && words * 64.0 < distinct * BitsPerTrigram)
        {
            words *= 2;
        }

        var folded = new ulong[words];
        for (var i = 0; i < MaxWords; i++)
        {
            folded[i & (words - 1)] |= bits[i];
        }

        return folded;
    }

    /// <summary>
    /// The bit positions (of 2^20 bits, taken modulo any filter's size) every body containing
    /// <paramref name="term"/> sets; null when the filter cannot answer for the term (shorter than
    /// <see cref="MinTermLength"/>, or not ASCII), and then every block is scanned.
    /// </summary>
    public static IReadOnlyList<long>? Positions(string term)
    {
        if (term.Length < MinTermLength || !System.Text.Ascii.IsValid(term))
        {
            return null;
        }

        var positions = new SortedSet<long>();
        ulong key = 0;
        for (var i = 0; i < term.Length; i++)
        {
            key = (key << 16) | Lower(term[i]);
            if (i >= 2)
            {
                positions.Add(Position(key));
            }
        }

        return [.. positions];
    }

    /// <summary>DuckDB's <c>lower()</c> for the characters an ASCII term can match: A-Z, U+0130 and U+212A.</summary>
    private static ulong Lower(char c) => c switch
    {
        >= 'A' and <= 'Z' => (ulong)(c | 0x20),
        '\u0130' => 'i',
        '\u212A' => 'k',
        _ => c,
    };

    /// <summary><see cref="Lower"/> of an ASCII byte, without a branch: 0x20 is added to A-Z only.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static ulong LowerAscii(byte b) => b | ((ulong)((uint)(b - 'A') <= 'Z' - 'A' ? 1u : 0u) << 5);

    /// <summary>The trigram in the low 48 bits of <paramref name="key"/> (three UTF-16 units) to a bit of 2^20.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static uint Position(ulong key) => (uint)(((key & 0xFFFF_FFFF_FFFF) * Fibonacci) >> (64 - PositionBitsLog2));
}

/// <summary>The time ranges of the blocks that may hold a term, merged where they overlap.</summary>
/// <param name="Ranges">Inclusive time ranges, in order, not overlapping.</param>
/// <param name="Blocks">Blocks kept (unfiltered ones included).</param>
/// <param name="AllBlocks">Blocks in <c>body_filters</c>.</param>
internal sealed record BodyCandidates(IReadOnlyList<(DateTime Lo, DateTime Hi)> Ranges, int Blocks, int AllBlocks)
{
    /// <summary>More ranges than this and the search scans everything instead: the OR of ranges would cost more than it saves.</summary>
    public const int MaxRanges = 512;

    /// <summary>
    /// Asks <c>body_filters</c> which blocks may hold <paramref name="term"/>; null when the filter cannot answer for the
    /// term (<see cref="BodyFilter.Positions"/>), the store has no filters table (a file opened read-only before its
    /// migration), or most blocks may hold the term (a common word: the ranges would cost more to test than they save),
    /// and then the search scans every row.
    /// </summary>
    public static BodyCandidates? Find(System.Data.Common.DbConnection connection, string term)
    {
        if (BodyFilter.Positions(term) is not { } positions)
        {
            return null;
        }

        // The positions are numbers computed here, not text the user typed: they are written into the SQL as literals.
        var test = new System.Text.StringBuilder("bits IS NULL OR (TRUE");
        foreach (var p in positions)
        {
            test.Append(System.Globalization.CultureInfo.InvariantCulture, $" AND ((bits[({p} % (64 * len(bits))) // 64 + 1] >> ({p} % 64)) & 1) = 1");
        }

        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT ts_lo, ts_hi, " + test + ") AS keep FROM body_filters ORDER BY ts_lo";
        var ranges = new List<(DateTime Lo, DateTime Hi)>();
        int blocks = 0, all = 0;
        try
        {
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                all++;
                if (!r.GetBoolean(2))
                {
                    continue;
                }

                blocks++;
                var (lo, hi) = (r.GetDateTime(0), r.GetDateTime(1));
                if (ranges.Count > 0 && lo <= ranges[^1].Hi)
                {
                    ranges[^1] = (ranges[^1].Lo, hi > ranges[^1].Hi ? hi : ranges[^1].Hi);
                }
                else
                {
                    ranges.Add((lo, hi));
                }
            }
        }
        catch (DuckDB.NET.Data.DuckDBException e) when (e.Message.Contains("body_filters", StringComparison.Ordinal))
        {
            return null;
        }

        return ranges.Count > MaxRanges || blocks * 2 > all ? null : new BodyCandidates(ranges, blocks, all);
    }
}
