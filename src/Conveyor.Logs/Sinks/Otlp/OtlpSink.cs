using System.IO.Compression;
using System.Net.Http.Headers;
using Conveyor.Logs.Model;
using Conveyor.Logs.Sources.Otlp;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Logs.V1;

namespace Conveyor.Logs.Sinks.Otlp;

/// <summary>
/// <c>--to otlp://H:P</c>: forwards each batch as one OTLP/HTTP protobuf export request (gzip by default) to an
/// OpenTelemetry Collector, a vendor, or another Conveyor, mapping events back to OTLP records with the receivers'
/// own mapping (<see cref="OtlpLogMapping"/>), so Conveyor → Conveyor keeps every field.
/// </summary>
/// <remarks>
/// <para>Failures are classified as the OTLP specification says: 429, 502, 503 and 504 (and no answer at all) are
/// transient, retried by <see cref="ResilientSink"/> after the receiver's <c>Retry-After</c> when it sent one; any
/// other status is permanent, and since a receiver that answers 4xx stores nothing of the request, the batch can be
/// split to find and dead-letter the records it refuses. A 200 whose <c>partial_success</c> rejects records is
/// final: the receiver took responsibility for them, and re-sending would duplicate the rest.</para>
/// <para>Dead letters are forwarded as records too (body = the raw line, attributes <c>conveyor.dead_letter.*</c>),
/// so a receiver keeps them searchable. An event's <c>id</c> and <c>source</c> describe this hop and are not sent.</para>
/// </remarks>
public sealed class OtlpSink : ILogSink
{
    private readonly OtlpSinkOptions _options;
    private readonly HttpClient _client;
    private volatile string? _lastFailure;
    private long _rejected;

    private OtlpSink(OtlpSinkOptions options, HttpMessageHandler? handler)
    {
        _options = options;
        _client = new HttpClient(handler ?? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = options.Timeout };
    }

    /// <inheritdoc />
    public string Name => "otlp";

    /// <summary>Records the receivers said (in a partial success) they rejected; they are not retried.</summary>
    public long RejectedByReceiver => Interlocked.Read(ref _rejected);

    /// <summary>Creates the sink; nothing is sent until the first batch.</summary>
    /// <exception cref="ArgumentException">No endpoint, or a timeout that is not positive.</exception>
    public static OtlpSink Open(OtlpSinkOptions options, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Endpoint is null)
        {
            throw new ArgumentException("Endpoint is required (e.g. http://127.0.0.1:4318/v1/logs).", nameof(options));
        }

        if (options.Timeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"Timeout must be positive (was {options.Timeout}).", nameof(options));
        }

        return new OtlpSink(options, handler);
    }

    /// <inheritdoc />
    public ValueTask WriteBatchAsync(IReadOnlyList<LogEvent> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return batch.Count == 0 ? default : ExportAsync(OtlpLogMapping.ToRequest(batch), cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask WriteDeadLettersAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0)
        {
            return default;
        }

        var events = new List<LogEvent>(batch.Count);
        foreach (var d in batch)
        {
            var e = new LogEvent(d.Id, d.Source, d.RawLine, d.Time);
            e.Attributes.Set("conveyor.dead_letter.reason", d.Reason);
            e.Attributes.Set("conveyor.dead_letter.parser", d.Parser);
            e.Attributes.Set("conveyor.dead_letter.source", d.Source);
            events.Add(e);
        }

        return ExportAsync(OtlpLogMapping.ToRequest(events), cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<SinkHealth> CheckHealthAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult(_lastFailure is { } failure ? SinkHealth.Unhealthy(failure) : SinkHealth.Healthy);

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return default;
    }

    private async ValueTask ExportAsync(ExportLogsServiceRequest request, CancellationToken cancellationToken)
    {
        using var content = new ByteArrayContent(Encode(request.ToByteArray(), _options.Gzip));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
        if (_options.Gzip)
        {
            content.Headers.ContentEncoding.Add("gzip");
        }

        HttpResponseMessage response;
        try
        {
            response = await _client.PostAsync(_options.Endpoint, content, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw Failed($"{_options.Endpoint} did not answer: {ex.Message}", transient: true, retryAfter: null, ex);
        }

        using (response)
        {
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                _lastFailure = null;
                if (TryParse(body, ExportLogsServiceResponse.Parser) is { PartialSuccess.RejectedLogRecords: > 0 } answer)
                {
                    Interlocked.Add(ref _rejected, answer.PartialSuccess.RejectedLogRecords);
                }

                return;
            }

            var status = (int)response.StatusCode;
            var reason = TryParse(body, Google.Rpc.Status.Parser)?.Message is { Length: > 0 } message ? message : response.ReasonPhrase;
            var transient = status is 429 or 502 or 503 or 504;
            throw Failed($"{_options.Endpoint} answered {status}: {reason}", transient, transient ? RetryAfter(response) : null, null);
        }
    }

    private SinkException Failed(string message, bool transient, TimeSpan? retryAfter, Exception? inner)
    {
        _lastFailure = message;
        return new SinkException(message, transient, inner) { RetryAfter = retryAfter };
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta;
        }

        // An HTTP date is read against the answer's own Date header, so no local clock is involved; without one the
        // retry policy's own backoff decides.
        return header?.Date is { } date && response.Headers.Date is { } sent ? date - sent is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero : null;
    }

    private static T? TryParse<T>(byte[] body, MessageParser<T> parser)
        where T : class, IMessage<T>
    {
        try
        {
            return body.Length == 0 ? null : parser.ParseFrom(body);
        }
        catch (InvalidProtocolBufferException)
        {
            // A proxy's HTML error page, say: the status alone classifies the failure.
            return null;
        }
    }

    private static byte[] Encode(byte[] payload, bool gzip)
    {
        if (!gzip)
        {
            return payload;
        }

        using var output = new MemoryStream(payload.Length / 4 + 64);
        using (var z = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            z.Write(payload);
        }

        return output.ToArray();
    }
}
