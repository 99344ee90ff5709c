using System.Text;

namespace Conveyor.Logs.Parsing;

/// <summary>
/// Decodes UTF-8 fields whose values repeat from line to line (a server's user agents and referrers), handing back
/// the string decoded last time instead of a new copy when the bytes are the same.
/// </summary>
/// <remarks>
/// Why: an access event's user agent is its longest field after the body (~120 chars, ~260 bytes on the heap), and
/// a few hundred agents make most of a server's traffic. Sharing the string takes that allocation off most lines,
/// and what sits in the queues is smaller for the GC to trace and promote.
/// What holds: a slot holds an immutable string, and a reference write is atomic, so parse workers share one cache
/// without locks; a race only costs a miss. A hit is exact: the bytes are compared with the cached string, char for
/// byte (<see cref="Ascii.Equals(ReadOnlySpan{byte}, ReadOnlySpan{char})"/>). Only ASCII values are cached (the rest
/// are decoded each time), so a miss allocates nothing the plain decode would not.
/// </remarks>
internal sealed class RepeatedStrings
{
    private readonly string?[] _slots;
    private readonly int _maxLength;

    /// <param name="slots">Slots in the cache, a power of two.</param>
    /// <param name="maxLength">Longer values are decoded each time: rarely repeated, and costly to compare.</param>
    public RepeatedStrings(int slots = 1024, int maxLength = 512)
    {
        if (slots <= 0 || (slots & (slots - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(slots), slots, "must be a power of two");
        }

        _slots = new string?[slots];
        _maxLength = maxLength;
    }

    /// <summary>The string <paramref name="bytes"/> decode to, as <see cref="Utf8.Decode"/> would give it.</summary>
    public string Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty || bytes.Length > _maxLength)
        {
            return Utf8.Decode(bytes);
        }

        var hash = new HashCode();
        hash.AddBytes(bytes);
        ref var slot = ref _slots[hash.ToHashCode() & (_slots.Length - 1)];
        var cached = Volatile.Read(ref slot);
        if (cached is not null && cached.Length == bytes.Length && Ascii.Equals(bytes, cached))
        {
            return cached;
        }

        var value = Utf8.Decode(bytes);
        if (value.Length == bytes.Length && Ascii.IsValid(bytes))
        {
            Volatile.Write(ref slot, value);
        }

        return value;
    }
}
