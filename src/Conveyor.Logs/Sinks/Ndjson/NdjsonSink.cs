using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Conveyor.Logs.Model;
using Conveyor.Logs.Query;

namespace Conveyor.Logs.Sinks.Ndjson;

/// <summary>
/// Writes one <see cref="LogEventJson"/> object per line, to a file (rotated by size and time) or to a stream
/// (<c>ndjson:-</c> is standard output). Files are append-only, so this sink is at-least-once: a replayed batch is
/// written again. A batch is serialised whole before any byte is written, so a refused event never leaves half a
/// batch behind.
/// </summary>
/// <remarks>
/// On a stream, dead letters are written inline as <c>{"dead_letter": {…}}</c> lines; for a file they go to
/// <see cref="NdjsonSinkOptions.DeadLetterPath"/>.
/// </remarks>
public sealed class NdjsonSink : ILogSink
{
    private static readonly byte[] NewLine = "\n"u8.ToArray();
    private readonly NdjsonSinkOptions? _options;
    private readonly TimeProvider _time;
    private readonly bool _leaveOpen;
    // Serialised batches between their preparation and their write: the lane's two workers, and one more.
    private readonly SlotPool<ArrayBufferWriter<byte>> _buffers = new(3, static () => new ArrayBufferWriter<byte>(64 * 1024));
    // Dead letters are serialised under the gate, one call at a time, so one buffer serves them all.
    private readonly ArrayBufferWriter<byte> _deadLetterLines = new(4 * 1024);
    private readonly SinkGate _gate;
    private Stream _stream;
    private Stream? _deadLetters;
    private DateTimeOffset _openedAt;

    private NdjsonSink(Stream stream, NdjsonSinkOptions? options, TimeProvider time, bool leaveOpen)
    {
        _stream = stream;
        _options = options;
        _time = time;
        _leaveOpen = leaveOpen;
        _openedAt = time.GetUtcNow();
        _gate = new SinkGate(this, static e => e is IOException ? new SinkException($"NDJSON write failed: {e.Message}", isTransient: true, e) : null);
    }

    /// <inheritdoc />
    public string Name => "ndjson";

    /// <summary>Opens (appending to) the file of <paramref name="options"/>, creating its folder when missing.</summary>
    /// <exception cref="ArgumentException">An option is invalid (the message names it).</exception>
    /// <exception cref="SinkException">The file cannot be opened.</exception>
    public static NdjsonSink Open(NdjsonSinkOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        try
        {
            return new NdjsonSink(OpenFile(options.Path), options, timeProvider ?? TimeProvider.System, leaveOpen: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SinkException($"Cannot open '{options.Path}': {e.Message}", isTransient: false, e);
        }
    }

    /// <summary>Writes to <paramref name="stream"/> (e.g. standard output), never rotating; disposal flushes and, unless <paramref name="leaveOpen"/>, closes it.</summary>
    public static NdjsonSink ForStream(Stream stream, bool leaveOpen = true, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return new NdjsonSink(stream, null, timeProvider ?? TimeProvider.System, leaveOpen);
    }

    /// <inheritdoc />
    public bool PreparesBatches => true;

    /// <inheritdoc />
    public ValueTask WriteBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken) =>
        ILogSink.PrepareAndWriteAsync(this, batch, cancellationToken);

    /// <summary>
    /// Serialises <paramref name="batch"/> into a pooled buffer, one line per event, off the serialised write: the JSON
    /// is most of this sink's CPU, and done here it runs beside the write of the batch before (the lane keeps the
    /// writes in batch order), so the one writer is left with the file's own calls.
    /// </summary>
    /// <exception cref="SinkException">An event's JSON is over <see cref="NdjsonSinkOptions.MaxEventBytes"/> (permanent).</exception>
    public ValueTask<PreparedBatch> PrepareBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        cancellationToken.ThrowIfCancellationRequested();
        var buffer = _buffers.Rent();
        buffer.ResetWrittenCount();
        try
        {
            var max = _options?.MaxEventBytes ?? int.MaxValue;
            using var writer = new Utf8JsonWriter(buffer, LogEventJson.WriterOptions);
            foreach (var e in batch)
            {
                var start = writer.BytesCommitted + writer.BytesPending;
                LogEventJson.Write(writer, e);
                writer.Flush();
                var length = writer.BytesCommitted - start;
                if (length > max)
                {
                    throw new SinkException($"event {e.Id} is {length} bytes of JSON, over the limit of {max} (MaxEventBytes)", isTransient: false);
                }

                buffer.Write(NewLine);
                writer.Reset(buffer);
            }
        }
        catch
        {
            _buffers.Return(buffer);
            throw;
        }

        return ValueTask.FromResult<PreparedBatch>(new Serialised(batch, buffer));
    }

    /// <summary>Writes the lines <see cref="PrepareBatchAsync"/> serialised (rotating first when due), under the gate.</summary>
    /// <exception cref="ArgumentException">The batch was not prepared by this sink.</exception>
    /// <exception cref="InvalidOperationException">The batch was written already.</exception>
    public async ValueTask WritePreparedAsync(PreparedBatch batch, CancellationToken cancellationToken)
    {
        var lines = (batch as Serialised ?? throw new ArgumentException("The batch was not prepared by an NDJSON sink.", nameof(batch))).Take();
        try
        {
            await _gate.RunAsync(
                async ct =>
                {
                    await RotateIfDueAsync(lines.WrittenCount).ConfigureAwait(false);
                    await _stream.WriteAsync(lines.WrittenMemory, ct).ConfigureAwait(false);
                    await _stream.FlushAsync(ct).ConfigureAwait(false);
                },
                cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _buffers.Return(lines);
        }
    }

    /// <inheritdoc />
    public ValueTask WriteDeadLettersAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return _gate.RunAsync(
            async ct =>
            {
                var buffer = _deadLetterLines;
                buffer.ResetWrittenCount();
                using (var writer = new Utf8JsonWriter(buffer, LogEventJson.WriterOptions))
                {
                    foreach (var d in batch)
                    {
                        if (_options is null)
                        {
                            writer.WriteStartObject();
                            writer.WritePropertyName("dead_letter");
                            SearchResponse.WriteDeadLetter(writer, d);
                            writer.WriteEndObject();
                        }
                        else
                        {
                            SearchResponse.WriteDeadLetter(writer, d);
                        }

                        writer.Flush();
                        buffer.Write(NewLine);
                        writer.Reset(buffer);
                    }
                }

                try
                {
                    var target = _options is null ? _stream : _deadLetters ??= OpenFile(_options.EffectiveDeadLetterPath);
                    await target.WriteAsync(buffer.WrittenMemory, ct).ConfigureAwait(false);
                    await target.FlushAsync(ct).ConfigureAwait(false);
                }
                catch (IOException e)
                {
                    // Named apart from an event write: the dead-letter file is a second file that can fail on its own.
                    throw new SinkException($"NDJSON dead-letter write failed: {e.Message}", isTransient: true, e);
                }
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<SinkHealth> CheckHealthAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult(_gate.IsDisposed ? SinkHealth.Unhealthy("disposed") : _stream.CanWrite ? SinkHealth.Healthy : SinkHealth.Unhealthy("the output is closed"));

    /// <summary>Flushes and closes the file (a given stream is flushed, and closed only when not left open).</summary>
    public ValueTask DisposeAsync() =>
        _gate.DisposeAsync(
            async () =>
            {
                await _stream.FlushAsync().ConfigureAwait(false);
                if (!_leaveOpen)
                {
                    await _stream.DisposeAsync().ConfigureAwait(false);
                }

                if (_deadLetters is not null)
                {
                    await _deadLetters.DisposeAsync().ConfigureAwait(false);
                }
            });

    private static FileStream OpenFile(string path)
    {
        var folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        return new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, 64 * 1024, useAsync: true);
    }

    /// <summary>Starts a new file when this write would pass the size limit or the file is older than the interval.</summary>
    private async Task RotateIfDueAsync(long incoming)
    {
        if (_options is null || _stream.Length == 0)
        {
            return;
        }

        var now = _time.GetUtcNow();
        var bySize = _options.MaxFileBytes is { } max && _stream.Length + incoming > max;
        var byTime = _options.RotationInterval is { } interval && now - _openedAt >= interval;
        if (!bySize && !byTime)
        {
            return;
        }

        await _stream.DisposeAsync().ConfigureAwait(false);
        var path = _options.Path;
        var stem = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path) ?? string.Empty, System.IO.Path.GetFileNameWithoutExtension(path))
            + "." + now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var extension = System.IO.Path.GetExtension(path);
        var target = stem + extension;
        for (var n = 1; File.Exists(target); n++)
        {
            target = string.Create(CultureInfo.InvariantCulture, $"{stem}-{n}{extension}");
        }

        File.Move(path, target);
        _stream = OpenFile(path);
        _openedAt = now;
    }

    /// <summary>A batch serialised to its lines, in a pooled buffer the write takes once.</summary>
    private sealed class Serialised(IReadOnlyList<LogEvent> events, ArrayBufferWriter<byte> lines) : PreparedBatch(events)
    {
        private ArrayBufferWriter<byte>? _lines = lines;

        public ArrayBufferWriter<byte> Take() =>
            Interlocked.Exchange(ref _lines, null) ?? throw new InvalidOperationException("A prepared batch is written once; prepare it again.");
    }
}
