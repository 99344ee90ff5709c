using System.Globalization;
using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text;
using Conveyor.Logs.Model;
using Conveyor.Logs.Pipeline;
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
        var request = context.Request;
        var response = context.Response;
        var binding = sources.FirstOrDefault(b => b.Options.Port == context.Connection.LocalPort) ?? (sources.Count > 0 ? sources[0] : null);
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

        byte[]? body;
        int length;
        try
        {
            (body, length) = await ReadBodyAsync(request.Body, gzip, options.MaxBodyBytes, context.RequestAborted).ConfigureAwait(false);
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

        if (body is null)
        {
            await ErrorAsync(response, 413, $"body is over the limit of {options.MaxBodyBytes} bytes{(gzip ? " after decompression" : string.Empty)}").ConfigureAwait(false);
            return;
        }

        var lines = Split(body.AsSpan(0, length), binding, options.MaxLineBytes);
        if (lines.Count == 0)
        {
            await AcceptedAsync(response, 0).ConfigureAwait(false);
            return;
        }

        var main = topology.Main;
        long bytes = lines.Sum(static l => l.Size);
        if (lines.Count > main.Capacity || bytes > (main.MaxBytes ?? long.MaxValue))
        {
            await ErrorAsync(response, 413, $"{lines.Count} lines ({bytes} bytes) can never fit in the buffer ({main.Capacity} lines, {main.MaxBytes} bytes); send smaller requests").ConfigureAwait(false);
            return;
        }

        binding.Info.OnReceived(lines.Count);
        if (topology.IsStopping)
        {
            binding.Info.OnRefused(lines.Count);
            await ErrorAsync(response, 503, "the service is stopping", retryAfter: 5).ConfigureAwait(false);
            return;
        }

        var status = await AdmitAsync(main.Writer, lines, options.BlockTimeout, context.RequestAborted).ConfigureAwait(false);
        switch (status)
        {
            case 202:
                binding.Info.OnAdmitted(lines.Count);
                await AcceptedAsync(response, lines.Count).ConfigureAwait(false);
                break;
            case 503:
                binding.Info.OnRefused(lines.Count);
                await ErrorAsync(response, 503, "the service is stopping", retryAfter: 5).ConfigureAwait(false);
                break;
            default:
                binding.Info.OnRefused(lines.Count);
                await ErrorAsync(response, 429, "the buffer is full; retry later", retryAfter: topology.RetryAfterSeconds()).ConfigureAwait(false);
                break;
        }
    }

    /// <summary>202, 429 (full: refused or timed out) or 503 (completed). All lines are admitted, or none.</summary>
    private static async Task<int> AdmitAsync(BufferWriter<RawLine> writer, List<RawLine> lines, TimeSpan blockTimeout, CancellationToken aborted)
    {
        try
        {
            if (writer.TryWriteAll(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(lines)))
            {
                return 202;
            }

            if (blockTimeout <= TimeSpan.Zero)
            {
                return 429;
            }

            using var wait = CancellationTokenSource.CreateLinkedTokenSource(aborted);
            wait.CancelAfter(blockTimeout);
            try
            {
                return await writer.WriteAllAsync(lines, wait.Token).ConfigureAwait(false) ? 202 : 429;
            }
            catch (OperationCanceledException)
            {
                // Nothing was written: the buffer admits a batch whole or not at all.
                return 429;
            }
        }
        catch (BufferCompletedException)
        {
            return 503;
        }
    }

    private static List<RawLine> Split(ReadOnlySpan<byte> body, HttpSourceBinding binding, int maxLineBytes)
    {
        var now = DateTimeOffset.UtcNow;
        var prefix = binding.Info.Name + ":" + now.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) + ":"
            + Interlocked.Increment(ref s_requests).ToString(CultureInfo.InvariantCulture) + ":";
        var lines = new List<RawLine>();
        var number = 0;
        while (!body.IsEmpty)
        {
            var lf = body.IndexOf((byte)'\n');
            var line = lf < 0 ? body : body[..lf];
            body = lf < 0 ? [] : body[(lf + 1)..];
            if (!line.IsEmpty && line[^1] == (byte)'\r')
            {
                line = line[..^1];
            }

            number++;
            if (line.IsEmpty)
            {
                continue;
            }

            var id = prefix + number.ToString(CultureInfo.InvariantCulture);
            lines.Add(line.Length > maxLineBytes
                ? new RawLine(line[..maxLineBytes].ToArray(), binding.Info, id, now, $"record of {line.Length} bytes is longer than the maximum of {maxLineBytes} bytes; the first bytes are kept")
                : new RawLine(line.ToArray(), binding.Info, id, now));
        }

        return lines;
    }

    /// <summary>The whole body, decompressed; a null body when it is over <paramref name="max"/>.</summary>
    private static async Task<(byte[]? Body, int Length)> ReadBodyAsync(Stream body, bool gzip, long max, CancellationToken cancellationToken)
    {
        var input = gzip ? new GZipStream(body, CompressionMode.Decompress, leaveOpen: true) : body;
        try
        {
            using var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            while (true)
            {
                var n = await input.ReadAsync(chunk, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                if (buffer.Length + n > max)
                {
                    return (null, 0);
                }

                buffer.Write(chunk, 0, n);
            }

            return (buffer.GetBuffer(), (int)buffer.Length);
        }
        finally
        {
            if (gzip)
            {
                await input.DisposeAsync().ConfigureAwait(false);
            }
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

    private static Task ErrorAsync(HttpResponse response, int status, string error, int? retryAfter = null)
    {
        response.StatusCode = status;
        if (retryAfter is { } seconds)
        {
            response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }

        return response.WriteAsJsonAsync(new ErrorBody(error), HttpJson.Options);
    }
}

/// <summary>The body of a 202.</summary>
public sealed record AcceptedBody(long Accepted);

/// <summary>The body of an error response.</summary>
public sealed record ErrorBody(string Error);
