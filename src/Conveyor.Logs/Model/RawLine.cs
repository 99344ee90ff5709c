namespace Conveyor.Logs.Model;

/// <summary>
/// One record as a source received it, on its way to the parse workers: the bytes without the line terminator,
/// who sent it, its stable id and when it arrived.
/// </summary>
/// <param name="Data">The record's bytes; owned by this line (sources copy out of their receive buffers) and never changed or
/// reused after: the parsed event may keep the array as its body (<see cref="LogEvent"/>).</param>
/// <param name="Source">The source that received it; also names the parser to use.</param>
/// <param name="Id">Stable per record: source name + position (docs/REFERENCE.md, "Event model").</param>
/// <param name="ReceivedAt">When the source received it; the event's observed time.</param>
/// <param name="Refusal">Set when the source already refused the record (e.g. over the maximum length): the parse
/// workers turn it into a dead letter with this reason instead of parsing it.</param>
/// <param name="Ack">One reference on the acknowledgement of the unit the line came in (a read chunk, a request);
/// null for fire-and-forget sources (UDP). Whoever finishes with the line completes the reference exactly once:
/// the main buffer when it drops it, the parse worker by handing it on to the <see cref="PipelineRecord"/>. Lines replayed
/// from the disk buffer carry one whose firing removes the record from disk.</param>
public readonly record struct RawLine(byte[] Data, SourceInfo Source, string Id, DateTimeOffset ReceivedAt, string? Refusal = null, Acknowledgement? Ack = null)
{
    /// <summary>The bytes a line is charged against a buffer's byte bound: its data plus the fixed cost of the entry.</summary>
    public long Size => Data.Length + Overhead;

    /// <summary>
    /// How many first bytes of a record refused as too long are kept as the dead letter's <c>raw_line</c>: 4 KiB, enough
    /// to tell what sent it, without holding a whole oversized record.
    /// </summary>
    public const int EvidenceBytes = 4096;

    /// <summary>The refusal reason of a record over <paramref name="maxBytes"/>; it says how much of it is kept.</summary>
    public static string OversizedReason(int maxBytes) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"record longer than the maximum of {maxBytes} bytes; the first {Math.Min(maxBytes, EvidenceBytes)} bytes are kept");

    /// <summary>Per-line memory beyond the data (array header, id string, struct), an estimate on the safe side.</summary>
    public const int Overhead = 96;

    /// <summary>
    /// Gives every line of one unit of input (a chunk read, a request) a reference on one new acknowledgement, which
    /// fires with the worst outcome once every line is finished with at every sink it went to. Returns null (and
    /// changes nothing) when <paramref name="lines"/> is empty.
    /// </summary>
    /// <param name="lines">The unit's lines; each is replaced by a copy carrying the acknowledgement.</param>
    /// <param name="onCompleted">Runs once when it fires, on the thread that finished the last line: keep it short.</param>
    public static Acknowledgement? Acknowledge(List<RawLine> lines, Action<DeliveryOutcome>? onCompleted = null)
    {
        ArgumentNullException.ThrowIfNull(lines);
        if (lines.Count == 0)
        {
            return null;
        }

        var ack = Acknowledgement.Create(lines.Count, onCompleted);
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(lines);
        for (var i = 0; i < span.Length; i++)
        {
            span[i] = span[i] with { Ack = ack };
        }

        return ack;
    }
}
