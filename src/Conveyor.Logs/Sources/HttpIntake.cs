using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Conveyor.Logs.Model;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Conveyor.Logs.Sources;

/// <summary>What became of a request's records at the main buffer (or, durable, the disk buffer).</summary>
public enum Admission
{
    /// <summary>Every record is in the main buffer.</summary>
    Admitted,

    /// <summary>None is: the buffer had no room within the block timeout (answer 429 / RESOURCE_EXHAUSTED).</summary>
    Full,

    /// <summary>None is: the buffer is completed, the service is stopping (answer 503 / UNAVAILABLE).</summary>
    Stopped,

    /// <summary>None is: the disk buffer cannot write (answer 503 / UNAVAILABLE with a retry delay).</summary>
    Unavailable,
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
    /// Admits all of <paramref name="lines"/> (one request) or none, under one <see cref="Acknowledgement"/> with a
    /// reference per line, so the pipeline reports what became of the request's records as it does for every source.
    /// "Admitted" means in the main buffer, or, when <paramref name="intake"/> is durable, on disk: that is when a
    /// request may be answered with success. The caller counts the outcome on its <see cref="SourceInfo"/>.
    /// </summary>
    /// <remarks>
    /// <para>Memory: no room within <paramref name="blockTimeout"/> (none at all when it is zero) is
    /// <see cref="Admission.Full"/>; under a dropping full mode the buffer refuses the batch at once and counts it
    /// itself, so the request is not offered twice. Durable: the write waits for the disk (up to
    /// <paramref name="blockTimeout"/> when positive, as <c>/ingest</c> does); a disk that cannot write is
    /// <see cref="Admission.Unavailable"/>, a full one <see cref="Admission.Full"/>.</para>
    /// <para>What holds: the acknowledgement fires exactly once. Lines that were never taken (refused, cancelled,
    /// the buffer completed) are completed here as <see cref="DeliveryOutcome.Dropped"/>; lines the buffer or the disk
    /// dropped were completed by them; admitted lines are completed downstream.</para>
    /// </remarks>
    /// <returns>The admission, and the request's acknowledgement (null for an empty request).</returns>
    public static async Task<(Admission Admission, Acknowledgement? Ack)> AdmitAsync(Pipeline.LineIntake intake, List<RawLine> lines, TimeSpan blockTimeout, CancellationToken aborted)
    {
        ArgumentNullException.ThrowIfNull(intake);
        ArgumentNullException.ThrowIfNull(lines);
        var ack = RawLine.Acknowledge(lines);
        if (ack is null)
        {
            return (Admission.Admitted, null);
        }

        var admission = intake.IsDurable
            ? await AdmitDurableAsync(intake, lines, ack, blockTimeout, aborted).ConfigureAwait(false)
            : await AdmitMemoryAsync(intake, lines, ack, blockTimeout, aborted).ConfigureAwait(false);
        return (admission, ack);
    }

    /// <summary>Why a request was not admitted, in the words the sources answer with.</summary>
    public static string Refusal(Pipeline.LineIntake intake, Admission admission)
    {
        ArgumentNullException.ThrowIfNull(intake);
        return admission switch
        {
            Admission.Full => intake.IsDurable ? "the disk buffer is full; retry later" : "the buffer is full; retry later",
            Admission.Unavailable => $"the disk buffer cannot write ({(intake as Pipeline.DiskIntake)?.Disk.GetDiskStatistics().DiskError}); retry later",
            _ => "the service is stopping",
        };
    }

    private static async Task<Admission> AdmitMemoryAsync(Pipeline.LineIntake intake, List<RawLine> lines, Acknowledgement ack, TimeSpan blockTimeout, CancellationToken aborted)
    {
        try
        {
            if (intake.TryWriteAll(CollectionsMarshal.AsSpan(lines)))
            {
                return Admission.Admitted;
            }

            // The buffer reports a drop synchronously, through its drop callback: a refusal it counted (a dropping
            // full mode, a batch over its bounds) has completed every reference by now.
            if (ack.IsCompleted)
            {
                return Admission.Full;
            }

            if (blockTimeout <= TimeSpan.Zero)
            {
                return NotTaken(lines, Admission.Full);
            }

            using var wait = CancellationTokenSource.CreateLinkedTokenSource(aborted);
            wait.CancelAfter(blockTimeout);
            try
            {
                // False: the buffer dropped them (its own block timeout) and completed their references.
                return await intake.WriteAllAsync(lines, wait.Token).ConfigureAwait(false) ? Admission.Admitted : Admission.Full;
            }
            catch (OperationCanceledException)
            {
                // Nothing was written: the buffer admits a batch whole or not at all.
                return NotTaken(lines, Admission.Full);
            }
        }
        catch (BufferCompletedException)
        {
            return NotTaken(lines, Admission.Stopped);
        }
    }

    private static async Task<Admission> AdmitDurableAsync(Pipeline.LineIntake intake, List<RawLine> lines, Acknowledgement ack, TimeSpan blockTimeout, CancellationToken aborted)
    {
        if ((intake as Pipeline.DiskIntake)?.Disk.GetDiskStatistics() is { IsDiskFaulted: true })
        {
            return NotTaken(lines, Admission.Unavailable);
        }

        using var wait = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        if (blockTimeout > TimeSpan.Zero)
        {
            wait.CancelAfter(blockTimeout);
        }

        try
        {
            // The disk intake completes the references when its write returns: Delivered on disk, Dropped refused.
            return await intake.WriteAllAsync(lines, wait.Token).ConfigureAwait(false) ? Admission.Admitted : Admission.Full;
        }
        catch (OperationCanceledException)
        {
            return ack.IsCompleted ? Admission.Full : NotTaken(lines, Admission.Full);
        }
        catch (BufferCompletedException)
        {
            return ack.IsCompleted ? Admission.Stopped : NotTaken(lines, Admission.Stopped);
        }
    }

    /// <summary>Completes the references of lines no buffer took, so the request's acknowledgement still fires once.</summary>
    private static Admission NotTaken(List<RawLine> lines, Admission admission)
    {
        foreach (var line in lines)
        {
            line.Ack?.Complete(DeliveryOutcome.Dropped);
        }

        return admission;
    }
}
