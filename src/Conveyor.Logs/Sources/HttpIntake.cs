using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Conveyor.Logs.Model;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Conveyor.Logs.Sources;

/// <summary>What became of a request's records at the main buffer.</summary>
public enum Admission
{
    /// <summary>Every record is in the main buffer.</summary>
    Admitted,

    /// <summary>None is: the buffer had no room within the block timeout (answer 429 / RESOURCE_EXHAUSTED).</summary>
    Full,

    /// <summary>None is: the buffer is completed, the service is stopping (answer 503 / UNAVAILABLE).</summary>
    Stopped,
}

/// <summary>A request body read whole, or why it could not be.</summary>
/// <param name="Data">The body (decompressed); null on failure.</param>
/// <param name="Length">How many bytes of <paramref name="Data"/> are the body.</param>
/// <param name="Status">0 on success, else the HTTP status to answer (400, 413, 415).</param>
/// <param name="Error">Why, on failure.</param>
public readonly record struct RequestBody(byte[]? Data, int Length, int Status, string? Error)
{
    /// <summary>The body's bytes.</summary>
    public ReadOnlySpan<byte> Span => Data is null ? [] : Data.AsSpan(0, Length);
}

/// <summary>
/// The steps every HTTP source takes with a request: the bearer token, the body (gzip and the size limit, also after
/// decompression) and the all-or-none admission of its records into the main buffer.
/// </summary>
public static class HttpIntake
{
    /// <summary>True when <paramref name="token"/> is null or the request carries <c>Authorization: Bearer TOKEN</c> (compared in constant time).</summary>
    public static bool IsAuthorized(HttpRequest request, string? token)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (token is null)
        {
            return true;
        }

        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[7..].Trim()), Encoding.UTF8.GetBytes(token));
    }

    /// <summary>
    /// Reads the whole body, decompressing <c>Content-Encoding: gzip</c>; over <paramref name="maxBytes"/> (declared,
    /// read, or after decompression) is 413, another encoding 415, broken gzip 400.
    /// </summary>
    public static async Task<RequestBody> ReadBodyAsync(HttpContext context, long maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var request = context.Request;
        var encoding = request.Headers.ContentEncoding.ToString().Trim();
        var gzip = encoding.Equals("gzip", StringComparison.OrdinalIgnoreCase);
        if (!gzip && encoding.Length > 0 && !encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
        {
            return new(null, 0, 415, $"content encoding must be gzip or identity (was '{encoding}')");
        }

        if (request.ContentLength > maxBytes)
        {
            return new(null, 0, 413, $"body of {request.ContentLength} bytes is over the limit of {maxBytes}");
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = maxBytes;
        }

        var input = gzip ? new GZipStream(request.Body, CompressionMode.Decompress, leaveOpen: true) : request.Body;
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

                if (buffer.Length + n > maxBytes)
                {
                    return new(null, 0, 413, $"body is over the limit of {maxBytes} bytes{(gzip ? " after decompression" : string.Empty)}");
                }

                buffer.Write(chunk, 0, n);
            }

            return new(buffer.GetBuffer(), (int)buffer.Length, 0, null);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == 413)
        {
            return new(null, 0, 413, $"body is over the limit of {maxBytes} bytes");
        }
        catch (InvalidDataException)
        {
            return new(null, 0, 400, "the body is not valid gzip");
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
    /// Null when <paramref name="lines"/> can ever fit in the main buffer, else why not (answer 413: retrying the same
    /// request would never succeed).
    /// </summary>
    public static string? CheckFits(List<RawLine> lines, int capacity, long? maxBytes, string noun = "records")
    {
        ArgumentNullException.ThrowIfNull(lines);
        long bytes = 0;
        foreach (var line in lines)
        {
            bytes += line.Size;
        }

        return lines.Count > capacity || bytes > (maxBytes ?? long.MaxValue)
            ? $"{lines.Count} {noun} ({bytes} bytes) can never fit in the buffer ({capacity} {noun}, {maxBytes} bytes); send smaller requests"
            : null;
    }

    /// <summary>
    /// Writes all of <paramref name="lines"/> into the main buffer or none, waiting up to <paramref name="blockTimeout"/>
    /// for room; the caller counts the outcome on its <see cref="SourceInfo"/>.
    /// </summary>
    public static async Task<Admission> AdmitAsync(Pipeline.LineIntake writer, List<RawLine> lines, TimeSpan blockTimeout, CancellationToken aborted) =>
        (await AdmitAsync(writer, lines, blockTimeout, dropping: false, aborted).ConfigureAwait(false)).Admission;

    /// <summary>
    /// <see cref="AdmitAsync(Pipeline.LineIntake, List{RawLine}, TimeSpan, CancellationToken)"/> for a caller that
    /// completes the lines' acknowledgements itself and so must know whether the buffer already did. With
    /// <paramref name="dropping"/> (the main buffer's full mode drops), a refused batch was counted as drops by the
    /// buffer, and waiting would only drop it again: it is refused at once.
    /// </summary>
    public static async Task<AdmissionResult> AdmitAsync(Pipeline.LineIntake writer, List<RawLine> lines, TimeSpan blockTimeout, bool dropping, CancellationToken aborted)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(lines);
        try
        {
            if (writer.TryWriteAll(CollectionsMarshal.AsSpan(lines)))
            {
                return new(Admission.Admitted, DropsCounted: false);
            }

            if (dropping)
            {
                return new(Admission.Full, DropsCounted: true);
            }

            if (blockTimeout <= TimeSpan.Zero)
            {
                return new(Admission.Full, DropsCounted: false);
            }

            using var wait = CancellationTokenSource.CreateLinkedTokenSource(aborted);
            wait.CancelAfter(blockTimeout);
            try
            {
                // False: the buffer refused the batch under its policy and counted it.
                return await writer.WriteAllAsync(lines, wait.Token).ConfigureAwait(false) ? new(Admission.Admitted, DropsCounted: false) : new(Admission.Full, DropsCounted: true);
            }
            catch (OperationCanceledException)
            {
                // Nothing was written: the buffer admits a batch whole or not at all.
                return new(Admission.Full, DropsCounted: false);
            }
        }
        catch (BufferCompletedException)
        {
            return new(Admission.Stopped, DropsCounted: false);
        }
    }
}

/// <summary>What became of a request's records, and whether the buffer counted a refusal as drops (completing the
/// lines' acknowledgements with it).</summary>
public readonly record struct AdmissionResult(Admission Admission, bool DropsCounted);
