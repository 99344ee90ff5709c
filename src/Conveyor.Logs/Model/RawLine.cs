namespace Conveyor.Logs.Model;

/// <summary>
/// One record as a source received it, on its way to the parse workers: the bytes without the line terminator,
/// who sent it, its stable id and when it arrived.
/// </summary>
/// <param name="Data">The record's bytes; owned by this line (sources copy out of their receive buffers).</param>
/// <param name="Source">The source that received it; also names the parser to use.</param>
/// <param name="Id">Stable per record: source name + position (SPEC §2).</param>
/// <param name="ReceivedAt">When the source received it; the event's observed time.</param>
/// <param name="Refusal">Set when the source already refused the record (e.g. over the maximum length): the parse
/// workers turn it into a dead letter with this reason instead of parsing it.</param>
/// <param name="Ack">The acknowledgement to complete once every sink is done with the line (committed, dead-lettered
/// or dropped); set on lines replayed from the disk buffer, where it removes the record from disk.</param>
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
}
