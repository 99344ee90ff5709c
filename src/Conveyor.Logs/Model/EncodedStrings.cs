using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Conveyor.Logs.Model;

/// <summary>
/// The JSON text of strings that recur as the same object from event to event, encoded once: attribute keys are
/// constants, and a parser hands back one string for a repeated user agent or referrer (<c>RepeatedStrings</c>), so
/// the writer can copy their bytes instead of scanning each for characters to escape and transcoding it from UTF-16
/// again, per event.
/// </summary>
/// <remarks>
/// What holds: an entry maps one string object to its encoding under <see cref="LogEventJson.WriterOptions"/>' encoder
/// and a hit is by reference, so a hit writes exactly the bytes the string itself would. Entries are immutable and a
/// slot write is atomic, so writers on any thread share the table without locks; a race costs a miss. A string is
/// considered only once it is in the oldest generation (literals are outside the collected heap and count as older
/// still), so a string made for one event is never held; it is encoded when met a second time in a row in its slot,
/// so one that passes through once costs no encoding; only ASCII strings (never a lone surrogate, which the writer refuses) of at most
/// <see cref="MaxLength"/> chars: the table holds at most <see cref="Slots"/> of them, ~1.5 MiB.
/// </remarks>
internal static class EncodedStrings
{
    private const int Slots = 2048;
    private const int MaxLength = 256;
    private static readonly Entry?[] Encoded = new Entry?[Slots];
    private static readonly string?[] Seen = new string?[Slots];

    /// <summary>
    /// The JSON text of <paramref name="value"/> when it is in the table (or now goes in) and <paramref name="writer"/>
    /// escapes as the table does (a writer with another encoder, or none, writes its strings itself).
    /// </summary>
    public static bool TryGet(Utf8JsonWriter writer, string value, out JsonEncodedText encoded)
    {
        if (!ReferenceEquals(writer.Options.Encoder, LogEventJson.WriterOptions.Encoder))
        {
            encoded = default;
            return false;
        }

        // Only strings that have lived through collections (or literals, outside the collected heap) can recur: a
        // string of this event alone is never held here, where it would live on and cost every young collection.
        if (GC.GetGeneration(value) < GC.MaxGeneration)
        {
            encoded = default;
            return false;
        }

        var i = RuntimeHelpers.GetHashCode(value) & (Slots - 1);
        if (Volatile.Read(ref Encoded[i]) is { } hit && ReferenceEquals(hit.Value, value))
        {
            encoded = hit.Text;
            return true;
        }

        if (value.Length <= MaxLength)
        {
            if (!ReferenceEquals(Volatile.Read(ref Seen[i]), value))
            {
                Volatile.Write(ref Seen[i], value);
            }
            else if (Ascii.IsValid(value))
            {
                var entry = new Entry(value, JsonEncodedText.Encode(value, LogEventJson.WriterOptions.Encoder));
                Volatile.Write(ref Encoded[i], entry);
                encoded = entry.Text;
                return true;
            }
        }

        encoded = default;
        return false;
    }

    private sealed record Entry(string Value, JsonEncodedText Text);
}
