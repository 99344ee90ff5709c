using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Conveyor.Logs.Model;

/// <summary>
/// An insertion-ordered set of attributes. Keys are unique; setting an existing key replaces its value.
/// </summary>
/// <remarks>
/// Values are one of: <see cref="string"/>, <see cref="long"/>, <see cref="double"/>, <see cref="bool"/>,
/// <c>null</c> (a JSON null), <see cref="IReadOnlyList{T}"/> of such values (a JSON array) or
/// <see cref="IReadOnlyDictionary{TKey, TValue}"/> of string to such values (an object, e.g.
/// <c>syslog.structured_data</c>; an empty one is a value too), or a <c>byte[]</c> (OTLP's bytes value, written to
/// JSON and the stores as base64 text; kept as bytes while the event travels so <c>--to otlp://</c> sends bytes again). Integers are stored as <see cref="long"/> so that
/// readers test one type; only an integer beyond its range is a <see cref="System.Numerics.BigInteger"/>, kept exactly.
/// Integer and floating point stay apart through every store and output: a <see cref="double"/> of 0 is written
/// <c>0.0</c> and reads back as a double (see <see cref="JsonNumber"/>).
/// A record carries a dozen or so attributes, so a list with linear lookup beats a hash table here.
/// </remarks>
public sealed class LogAttributes : IReadOnlyCollection<KeyValuePair<string, object?>>
{
    // An enriched access-log event holds 14 attributes: room for 16 means its list is allocated once, never regrown
    // (a regrowth from 12 cost a second array and a copy per line on the hot path).
    private const int InitialCapacity = 16;

    // Boxes of the integers most values are (status codes, ports, small sizes) and of the two booleans, shared by
    // every event: a boxed value is immutable, so sharing one is indistinguishable from boxing anew, minus 24 bytes.
    private const int CachedIntegers = 1024;
    private static readonly object[] BoxedIntegers = CreateBoxedIntegers();
    private static readonly object BoxedTrue = true;
    private static readonly object BoxedFalse = false;

    private readonly List<KeyValuePair<string, object?>> _items = new(InitialCapacity);

    // One bit per key length (mod 64) present: most lookups that miss (every Set of a parser filling a fresh event, an
    // enricher asking for a field the line lacks) find their length's bit clear and skip the scan. Only ever a superset
    // of the lengths present: Remove leaves its bit, which costs a scan, never a wrong answer.
    private ulong _lengths;

    /// <inheritdoc />
    public int Count => _items.Count;

    /// <summary>Sets <paramref name="key"/> to <paramref name="value"/>, replacing any value it had.</summary>
    public void Set(string key, object? value)
    {
        ArgumentNullException.ThrowIfNull(key);
        var i = IndexOf(key);
        if (i >= 0)
        {
            _items[i] = new(key, value);
        }
        else
        {
            _items.Add(new(key, value));
            _lengths |= LengthBit(key);
        }
    }

    /// <summary>Sets an integer attribute.</summary>
    public void Set(string key, long value) => Set(key, value is >= 0 and < CachedIntegers ? BoxedIntegers[value] : value);

    /// <summary>Sets a boolean attribute.</summary>
    public void Set(string key, bool value) => Set(key, value ? BoxedTrue : BoxedFalse);

    /// <summary>Gets the value of <paramref name="key"/>.</summary>
    public bool TryGetValue(string key, out object? value)
    {
        var i = IndexOf(key);
        value = i >= 0 ? _items[i].Value : null;
        return i >= 0;
    }

    /// <summary>Gets a string value; false when absent or not a string.</summary>
    public bool TryGetString(string key, [NotNullWhen(true)] out string? value)
    {
        TryGetValue(key, out var v);
        value = v as string;
        return value is not null;
    }

    /// <summary>Gets an integer value; false when absent or not an integer.</summary>
    public bool TryGetInt64(string key, out long value)
    {
        if (TryGetValue(key, out var v) && v is long l)
        {
            value = l;
            return true;
        }

        value = 0;
        return false;
    }

    /// <summary>True when <paramref name="key"/> is present (even with a null value).</summary>
    public bool Contains(string key) => IndexOf(key) >= 0;

    /// <summary>Removes <paramref name="key"/>; false when it was absent.</summary>
    public bool Remove(string key)
    {
        var i = IndexOf(key);
        if (i < 0)
        {
            return false;
        }

        _items.RemoveAt(i);
        return true;
    }

    /// <summary>The attribute at <paramref name="index"/> in the order they were set (0 ≤ index &lt; <see cref="Count"/>).</summary>
    internal KeyValuePair<string, object?> At(int index) => _items[index];

    /// <inheritdoc />
    public List<KeyValuePair<string, object?>>.Enumerator GetEnumerator() => _items.GetEnumerator();

    IEnumerator<KeyValuePair<string, object?>> IEnumerable<KeyValuePair<string, object?>>.GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _items.GetEnumerator();

    private static object[] CreateBoxedIntegers()
    {
        var boxes = new object[CachedIntegers];
        for (var i = 0; i < boxes.Length; i++)
        {
            boxes[i] = (long)i;
        }

        return boxes;
    }

    // The hot path's keys are the SemanticNames constants, so a hit is usually the same string object and a miss (every
    // Set of a parser filling a fresh event) usually differs in length: both are settled before any character is read.
    // string.Equals(string, string) is ordinal and inlines those checks; the StringComparison overload did not, and a
    // profile of the seed rate put a tenth of the process's CPU in this loop.
    private static ulong LengthBit(string key) => 1UL << (key.Length & 63);

    private int IndexOf(string key)
    {
        if ((_lengths & LengthBit(key)) == 0)
        {
            return -1;
        }

        var items = CollectionsMarshal.AsSpan(_items);
        for (var i = 0; i < items.Length; i++)
        {
            var k = items[i].Key;
            if (ReferenceEquals(k, key) || (k.Length == key.Length && string.Equals(k, key)))
            {
                return i;
            }
        }

        return -1;
    }
}
