namespace Conveyor.Durable;

/// <summary>
/// A record read from a <see cref="DiskBuffer"/>. It stays on disk until it is acknowledged, through
/// <see cref="Acknowledgement"/> (completing its one reference, with any outcome) or
/// <see cref="DiskBuffer.Acknowledge(long)"/>; after a crash, records not acknowledged are read again.
/// </summary>
/// <param name="Sequence">The record's position in the buffer: increasing in write order, never reused.</param>
/// <param name="Payload">The bytes written. Owned by the record; valid as long as it is referenced.</param>
/// <param name="Acknowledgement">Holds one reference; when it fires, the record is done.</param>
public readonly record struct DiskRecord(long Sequence, ReadOnlyMemory<byte> Payload, Acknowledgement Acknowledgement);
