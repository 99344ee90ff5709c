using System.Buffers;
using System.Globalization;
using System.IO.Compression;
using System.IO.Pipelines;
using System.Net.Http.Headers;
using System.Text;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Pipeline;
using Conveyor.Logs.Sources.Framing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Conveyor.Logs.Sources.Http;

/// <summary>
/// <c>POST /ingest</c> (docs/REFERENCE.md, "HTTP"): a body of lines (<c>text/plain</c> or <c>application/x-ndjson</c>, or
/// curl's default <c>application/x-www-form-urlencoded</c> read as text; optionally gzip), admitted all or none. <c>202 {"accepted": N}</c> means every line is in the main buffer and will be
/// stored even if the service is stopped right after. A full buffer answers 429 with <c>Retry-After</c> from
/// the measured drain rate; a stopping service 503. Errors carry <c>{"error": reason}</c>.
/// </summary>
public static class IngestEndpoint
{
    private static long s_requests;

    /// <summary>Handles one <c>POST /ingest</c> for the HTTP source of <paramref name="sources"/> that owns the request's local port.</summary>
    /// <param name="topology">The running topology; null while the service starts (answered 503).</param>
    public static async Task HandleAsync(HttpContext context, IReadOnlyList<HttpSourceBinding> sources, LogTopology? topology)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(sources);
        var binding = sources.FirstOrDefault(b => b.Options.Port == context.Connection.LocalPort) ?? (sources.Count > 0 ? sources[0] : null);
        await AnswerAsync(context, binding, topology).ConfigureAwait(false);

        // Whatever the answer, the rest of an unread body is read after it (and after the budget was released), so a
        // client still sending gets its answer, not a reset.
        await HttpIntake.DiscardUnreadAsync(context, binding?.Options.MaxBodyBytes ?? new Configuration.SourceOptions().MaxBodyBytes).ConfigureAwait(false);
    }

    private static async Task AnswerAsync(HttpContext context, HttpSourceBinding? binding, LogTopology? topology)
    {
        var request = context.Request;
        var response = context.Response;
        if (topology is null || binding is null)
        {
            await ErrorAsync(response, 503, "the pipeline is starting", retryAfter: 1).ConfigureAwait(false);
            return;
        }

        var options = binding.Options;
        if (options.BearerToken is { } token && !HasToken(request, token))
        {
            response.Headers.WWWAuthenticate = "Bearer";
            await ErrorAsync(response, 401, "a bearer token is required (Authorization: Bearer TOKEN)").ConfigureAwait(false);
            return;
        }

        // curl -d/--data-binary labels the bytes it sends verbatim application/x-www-form-urlencoded; refusing that
        // would turn `curl --data-binary @app.log /ingest` into a 415, so it is read as lines like text/plain.
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var media)
            || media.MediaType is not ("text/plain" or "application/x-ndjson" or "application/x-www-form-urlencoded"))
        {
            await ErrorAsync(response, 415, $"content type must be text/plain or application/x-ndjson (was '{request.ContentType}')").ConfigureAwait(false);
            return;
        }

        var encoding = request.Headers.ContentEncoding.ToString().Trim();
        var gzip = encoding.Equals("gzip", StringComparison.OrdinalIgnoreCase);
        if (!gzip && encoding.Length > 0 && !encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
        {
            await ErrorAsync(response, 415, $"content encoding must be gzip or identity (was '{encoding}')").ConfigureAwait(false);
            return;
        }

        if (request.ContentLength > options.MaxBodyBytes)
        {
            await ErrorAsync(response, 413, $"body of {request.ContentLength} bytes is over the limit of {options.MaxBodyBytes}").ConfigureAwait(false);
            return;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = options.MaxBodyBytes;
        }

        // Reserve the body's bytes before reading any: over the budget, the client is told to come back, unread.
        var reserved = request.ContentLength is { } declared && !gzip ? Math.Min(declared, options.MaxBodyBytes) : HttpIntake.ReserveStep;
        if (!binding.Bodies.TryReserve(reserved))
        {
            // Answered unread; HandleAsync reads the rest after the answer, holding none of the budget.
            binding.Info.OnBodyRefused();
            await ErrorAsync(response, 429, HttpIntake.BudgetRefusal(binding.Bodies), retryAfter: 1).ConfigureAwait(false);
            return;
        }

        var reservation = new Reservation { Bytes = reserved };
        try
        {
            await ReadAndAdmitAsync(context, binding, topology, gzip, reservation).ConfigureAwait(false);
        }
        finally
        {
            // The lines are admitted or refused by now: the main buffer's own bound holds them from here.
            binding.Bodies.Release(reservation.Bytes);
        }
    }

    /// <summary>The bytes of <see cref="BodyBudget"/> one request holds; it grows as the body is read.</summary>
    private sealed class Reservation
    {
        public long Bytes { get; set; }
    }

    /// <summary>Reads, admits and answers (a 429 may leave part of the body unread: HandleAsync discards the rest).</summary>
    private static async Task ReadAndAdmitAsync(HttpContext context, HttpSourceBinding binding, LogTopology topology, bool gzip, Reservation reservation)
    {
        var request = context.Request;
        var response = context.Response;
        var options = binding.Options;
        List<RawLine>? lines;
        string? refusal;
        try
        {
            (lines, refusal) = await ReadLinesAsync(request.Body, gzip, binding, reservation, topology.Time, context.RequestAborted).ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == 413)
        {
            await ErrorAsync(response, 413, $"body is over the limit of {options.MaxBodyBytes} bytes").ConfigureAwait(false);
            return;
        }
        catch (InvalidDataException)
        {
            await ErrorAsync(response, 400, "the body is not valid gzip").ConfigureAwait(false);
            return;
        }
        catch (Exception ex) when (ex is BadHttpRequestException or IOException or OperationCanceledException)
        {
            // The client's fault (a body cut short, sent too slowly, a reset): one line, rate-limited, counted; never a stack trace.
            binding.OnClientFault(context.RequestServices.GetService(typeof(Microsoft.Extensions.Logging.ILoggerFactory)) as Microsoft.Extensions.Logging.ILoggerFactory, topology.Time, context.Connection.RemoteIpAddress + ":" + context.Connection.RemotePort.ToString(CultureInfo.InvariantCulture), ex.Message);
            if (!response.HasStarted && !context.RequestAborted.IsCancellationRequested)
            {
                await ErrorAsync(response, ex is BadHttpRequestException bad ? bad.StatusCode : 400, "the request body could not be read: " + ex.Message).ConfigureAwait(false);
            }

            return;
        }

        if (refusal is not null)
        {
            binding.Info.OnBodyRefused();
            await ErrorAsync(response, 429, refusal, retryAfter: 1).ConfigureAwait(false);
            return;
        }

        if (lines is null)
        {
            await ErrorAsync(response, 413, $"body is over the limit of {options.MaxBodyBytes} bytes{(gzip ? " after decompression" : string.Empty)}").ConfigureAwait(false);
            return;
        }

        if (lines.Count == 0)
        {
            await AcceptedAsync(response, 0).ConfigureAwait(false);
            return;
        }

        if (HttpIntake.CheckFits(lines, topology.Main.Capacity, topology.Main.MaxBytes, "lines") is { } tooLarge)
        {
            await ErrorAsync(response, 413, tooLarge).ConfigureAwait(false);
            return;
        }

        binding.Info.OnReceived(lines.Count);
        if (topology.IsStopping)
        {
            binding.Info.OnRefused(lines.Count);
            await ErrorAsync(response, 503, "the service is stopping", retryAfter: 5).ConfigureAwait(false);
            return;
        }

        // One acknowledgement per request. 202 means admitted: in the main buffer, or on disk in durable mode (the
        // disk intake completes the acknowledgement then); a sender that must know the lines are stored could be given
        // the acknowledgement's completion later.
        var (admission, _) = await HttpIntake.AdmitAsync(topology.Intake, lines, options.BlockTimeout, context.RequestAborted).ConfigureAwait(false);
        if (admission == Admission.Admitted)
        {
            binding.Info.OnAdmitted(lines.Count);
            await AcceptedAsync(response, lines.Count).ConfigureAwait(false);
            return;
        }

        binding.Info.OnRefused(lines.Count);
        var reason = HttpIntake.Refusal(topology.Intake, admission);
        if (admission == Admission.Full)
        {
            await ErrorAsync(response, 429, reason, retryAfter: topology.RetryAfterSeconds()).ConfigureAwait(false);
        }
        else
        {
            await ErrorAsync(response, 503, reason, retryAfter: 5).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Reads the body (decompressed) straight into lines, one copy per line and never the whole body, growing the
    /// reservation in <see cref="HttpIntake.ReserveStep"/>s as the body bytes read pass it. Lines are null when the body is over the
    /// maximum; the refusal is set when the budget cannot cover it. Empty lines are skipped but numbered, so ids stay
    /// the line numbers of the body.
    /// </summary>
    private static async Task<(List<RawLine>? Lines, string? Refusal)> ReadLinesAsync(Stream body, bool gzip, HttpSourceBinding binding, Reservation reservation, TimeProvider time, CancellationToken cancellationToken)
    {
        var options = binding.Options;
        var now = time.GetUtcNow();
        var prefix = binding.Info.Name + ":" + now.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) + ":"
            + Interlocked.Increment(ref s_requests).ToString(CultureInfo.InvariantCulture) + ":";
        var input = gzip ? new GZipStream(body, CompressionMode.Decompress, leaveOpen: true) : body;
        var reader = PipeReader.Create(input, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024, leaveOpen: true));
        var framer = new LineFramer(options.MaxLineBytes);
        var lines = new List<RawLine>();
        var number = 0;
        long consumed = 0;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                var buffer = result.Buffer;
                if (consumed + buffer.Length > options.MaxBodyBytes)
                {
                    return (null, null);
                }

                var initial = buffer.Length;
                while (true)
                {
                    var status = framer.TryRead(ref buffer, out var frame);
                    if (status == FrameStatus.NeedMoreData)
                    {
                        break;
                    }

                    number++;
                    if (status == FrameStatus.Frame && frame.IsEmpty)
                    {
                        continue;
                    }

                    Add(lines, frame, status == FrameStatus.Oversized);
                }

                if (result.IsCompleted && !buffer.IsEmpty)
                {
                    // The last line without its LF.
                    number++;
                    var last = buffer.Length > 0 && buffer.Slice(buffer.Length - 1).FirstSpan[0] == (byte)'\r' ? buffer.Slice(0, buffer.Length - 1) : buffer;
                    var tooLong = last.Length > options.MaxLineBytes;
                    if (!last.IsEmpty)
                    {
                        Add(lines, tooLong ? last.Slice(0, Math.Min(options.MaxLineBytes, RawLine.EvidenceBytes)) : last, tooLong);
                    }

                    buffer = buffer.Slice(buffer.End);
                }

                consumed += initial - buffer.Length;
                reader.AdvanceTo(buffer.Start, buffer.End);
                // The budget counts body bytes read (decompressed): a request that reserved its Content-Length never
                // needs more, so concurrent big posts cannot all stall half-read, each refused for lack of the bytes
                // the others hold (counting the lines' per-line overhead did exactly that: 4 x 8 MiB posts filled the
                // 32 MiB budget and every one of them refused itself, so none was ever accepted).
                if (consumed > reservation.Bytes)
                {
                    var more = consumed - reservation.Bytes + HttpIntake.ReserveStep;
                    if (!binding.Bodies.TryReserve(more))
                    {
                        return (null, HttpIntake.BudgetRefusal(binding.Bodies));
                    }

                    reservation.Bytes += more;
                }

                if (result.IsCompleted)
                {
                    return (lines, null);
                }
            }
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
            if (gzip)
            {
                await input.DisposeAsync().ConfigureAwait(false);
            }
        }

        void Add(List<RawLine> list, in ReadOnlySequence<byte> frame, bool oversized)
        {
            var id = prefix + number.ToString(CultureInfo.InvariantCulture);
            var line = oversized
                ? new RawLine(frame.ToArray(), binding.Info, id, now, RawLine.OversizedReason(options.MaxLineBytes))
                : new RawLine(frame.ToArray(), binding.Info, id, now);
            list.Add(line);
        }
    }

    /// <summary>
    /// True when the HTTP source that took this request (by local port) has no bearer token, or the request
    /// carries it. The dashboard's <c>/api/</c> calls are checked by the same rule.
    /// </summary>
    public static bool IsAuthorized(HttpContext context, IReadOnlyList<HttpSourceBinding> sources)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(sources);
        var binding = sources.FirstOrDefault(b => b.Options.Port == context.Connection.LocalPort) ?? (sources.Count > 0 ? sources[0] : null);
        return binding?.Options.BearerToken is not { } token || HasToken(context.Request, token);
    }

    private static bool HasToken(HttpRequest request, string token)
    {
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var given = Encoding.UTF8.GetBytes(header[7..].Trim());
        var expected = Encoding.UTF8.GetBytes(token);
        return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(given, expected);
    }

    private static Task AcceptedAsync(HttpResponse response, int accepted)
    {
        response.StatusCode = 202;
        return response.WriteAsJsonAsync(new AcceptedBody(accepted), HttpJson.Options);
    }

    /// <summary>
    /// Writes an error with its Content-Length, so the answer is whole on the wire as soon as it is written (not at
    /// the request's end): a refusal followed by <see cref="HttpIntake.DiscardUnreadAsync"/> reaches the client before the drain.
    /// </summary>
    private static async Task ErrorAsync(HttpResponse response, int status, string error, int? retryAfter = null)
    {
        response.StatusCode = status;
        if (retryAfter is { } seconds)
        {
            response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }

        var body = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new ErrorBody(error), HttpJson.Options);
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength = body.Length;
        await response.Body.WriteAsync(body).ConfigureAwait(false);
        await response.Body.FlushAsync().ConfigureAwait(false);
    }
}

/// <summary>The body of a 202.</summary>
public sealed record AcceptedBody(long Accepted);

/// <summary>The body of an error response.</summary>
public sealed record ErrorBody(string Error);
