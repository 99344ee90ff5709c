using System.Collections.Concurrent;
using Conveyor.Durable;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Microsoft.Extensions.Logging;

namespace Conveyor.Logs.Pipeline;

/// <summary>
/// The durable main buffer (<c>buffer:type: disk</c>): sources write lines into a <see cref="DiskBuffer"/> and are
/// told "admitted" only once the lines are on disk; a replay loop reads them back, in order, into the in-memory main
/// buffer for the parse workers, each line carrying its record's <see cref="Acknowledgement"/>, so a record leaves the
/// disk only when every sink has committed (or dead-lettered, or dropped and counted) its line.
/// </summary>
/// <remarks>After a crash, what was not acknowledged is replayed; the stores' idempotency by event id removes
/// the lines that had been stored already. The in-memory main buffer behind it is a read-ahead window only.</remarks>
public sealed partial class DiskIntake : LineIntake, IAsyncDisposable
{
    private const int ReplayBatch = 512;

    private readonly DiskBuffer _disk;
    private readonly BufferWriter<RawLine> _main;
    private readonly ILogger _logger;
    private readonly Func<string, SourceInfo?> _findSource;
    private readonly ConcurrentDictionary<string, SourceInfo> _orphans = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private Task _replay = Task.CompletedTask;
    private long _undecodable;

    private DiskIntake(DiskBuffer disk, BufferWriter<RawLine> main, Func<string, SourceInfo?> findSource, ILogger logger)
    {
        _disk = disk;
        _main = main;
        _findSource = findSource;
        _logger = logger;
    }

    /// <summary>The disk buffer, for diagnostics.</summary>
    public DiskBuffer Disk => _disk;

    /// <inheritdoc />
    public override bool IsDurable => true;

    /// <summary>Records that were not lines (written by something else, or an older format): acknowledged as dropped and logged.</summary>
    public long Undecodable => Interlocked.Read(ref _undecodable);

    /// <summary>
    /// Opens (and recovers) the disk buffer of <paramref name="settings"/>, logging every damaged region with its
    /// segment and offset. Lines replayed go to <paramref name="main"/>; a replayed line's source is found by name.
    /// </summary>
    /// <exception cref="IOException">The buffer cannot be created or opened; the message names the path and the reason.</exception>
    public static DiskIntake Open(BufferSettings settings, BufferWriter<RawLine> main, Func<string, SourceInfo?> findSource, ILogger logger, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(main);
        ArgumentNullException.ThrowIfNull(findSource);
        ArgumentNullException.ThrowIfNull(logger);
        var disk = DiskBuffer.Open(new DiskBufferOptions
        {
            Directory = settings.Path,
            MaxDiskBytes = settings.MaxDiskBytes,
            Fsync = settings.Fsync,
            FullMode = settings.FullMode,
            BlockTimeout = settings.BlockTimeout,
            Name = "disk",
            TimeProvider = time,
        });
        var recovery = disk.Recovery;
        foreach (var region in recovery.Corrupt)
        {
            LogCorrupt(logger, disk.Directory, region.Segment, region.Offset, region.Length, region.Reason, region.SavedAs);
        }

        if (recovery.CheckpointProblem is { } problem)
        {
            LogCheckpointProblem(logger, disk.Directory, problem);
        }

        LogOpened(logger, disk.Directory, recovery.Replayed, recovery.Segments, recovery.Corrupt.Count, recovery.Elapsed.TotalMilliseconds, settings.Fsync);
        return new DiskIntake(disk, main, findSource, logger);
    }

    /// <inheritdoc />
    public override bool TryWrite(RawLine line) => _disk.TryWrite(RawLineCodec.Encode(line));

    /// <inheritdoc />
    public override ValueTask<bool> WriteAsync(RawLine line, CancellationToken cancellationToken) => _disk.WriteAsync(RawLineCodec.Encode(line), cancellationToken);

    /// <inheritdoc />
    public override bool TryWriteAll(ReadOnlySpan<RawLine> lines) => false;

    /// <inheritdoc />
    public override ValueTask<bool> WriteAllAsync(IReadOnlyList<RawLine> lines, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var records = new ReadOnlyMemory<byte>[lines.Count];
        for (var i = 0; i < records.Length; i++)
        {
            records[i] = RawLineCodec.Encode(lines[i]);
        }

        return _disk.WriteAllAsync(records, cancellationToken);
    }

    /// <summary>Starts moving lines from disk into the main buffer; call once every source is registered, so replayed lines find their parser.</summary>
    public void StartReplay() => _replay = Task.Run(ReplayAsync);

    /// <summary>Stops intake and waits until every line on disk has been handed to the main buffer (or the token fires).</summary>
    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        _disk.Complete();
        try
        {
            await _replay.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Stops the replay and closes the disk buffer (what is not acknowledged stays for the next start).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _replay.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await _disk.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task ReplayAsync()
    {
        var records = new List<DiskRecord>(ReplayBatch);
        var lines = new List<RawLine>(ReplayBatch);
        try
        {
            while (await _disk.ReadBatchAsync(records, ReplayBatch, 4L << 20, TimeSpan.Zero, _stop.Token).ConfigureAwait(false) > 0)
            {
                foreach (var record in records)
                {
                    try
                    {
                        lines.Add(RawLineCodec.Decode(record.Payload.Span, SourceNamed) with { Ack = record.Acknowledgement });
                    }
                    catch (InvalidDataException ex)
                    {
                        Interlocked.Increment(ref _undecodable);
                        LogUndecodable(_logger, record.Sequence, ex.Message);
                        record.Acknowledgement.Complete(DeliveryOutcome.Dropped);
                    }
                }

                if (lines.Count > 0 && !await _main.WriteAllAsync(lines, _stop.Token).ConfigureAwait(false))
                {
                    // The main buffer dropped them under its policy (and counted them): they are done with.
                    foreach (var line in lines)
                    {
                        line.Ack?.Complete(DeliveryOutcome.Dropped);
                    }
                }

                records.Clear();
                lines.Clear();
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or BufferCompletedException)
        {
            // Stopping: lines not handed over stay on disk, unacknowledged, for the next start.
        }
    }

    private SourceInfo SourceNamed(string name) =>
        _findSource(name) ?? _orphans.GetOrAdd(name, static n => new SourceInfo(n, "replayed", LogParsers.Create("auto")));

    [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "Disk buffer {Path}: {Replayed} lines to replay from {Segments} segments, {Corrupt} damaged regions skipped, recovered in {Milliseconds:F0} ms (fsync {Fsync})")]
    private static partial void LogOpened(ILogger logger, string path, long replayed, int segments, int corrupt, double milliseconds, FsyncPolicy fsync);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Warning, Message = "Disk buffer {Path}: skipped {Length} damaged bytes in segment {Segment} at offset {Offset} ({Reason}); the bytes are in {SavedAs}")]
    private static partial void LogCorrupt(ILogger logger, string path, string segment, long offset, long length, string reason, string? savedAs);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Warning, Message = "Disk buffer {Path}: {Problem}; every record found is replayed")]
    private static partial void LogCheckpointProblem(ILogger logger, string path, string problem);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Warning, Message = "Disk buffer record {Sequence} is not a line ({Reason}); dropped")]
    private static partial void LogUndecodable(ILogger logger, long sequence, string reason);
}
