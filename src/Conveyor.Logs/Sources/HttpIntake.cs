using System.Buffers;
using System.Globalization;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Conveyor.Logs.Model;
using Conveyor.Logs.Sources.Http;
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
/// <param name="Status">0 on success, else the HTTP status to answer (400, 413, 415, or 429 with <c>Retry-After</c> when the budget of bodies in flight is spent).</param>
/// <param name="Error">Why, on failure.</param>
/// <param name="Reserved">On success, the bytes of the <see cref="BodyBudget"/> the body holds: the caller releases them once its records are admitted or refused. 0 on failure (released already).</param>
public readonly record struct RequestBody(byte[]? Data, int Length, int Status, string? Error, long Reserved = 0)
{
    /// <summary>The body's bytes.</summary>
    public ReadOnlySpan<byte> Span => Data is null ? [] : Data.AsSpan(0, Length);
}

/// <summary>
/// The steps every HTTP source takes with a request: the bearer token, the body (gzip and the size limit, also after
/// decompression, under the budget of bodies in flight), the all-or-none admission of its records into the main
/// buffer, and reading what is left of a body answered early (<see cref="DiscardUnreadAsync"/>).
/// </summary>
public static class HttpIntake
{
    /// <summary>A body of unknown length (chunked, gzip) reserves this much of the budget before reading, and this much more at a time as it grows.</summary>
    public const long ReserveStep = 64 * 1024;

    /// <summary>The reason of a 429 for a body the budget cannot cover.</summary>
    public static string BudgetRefusal(BodyBudget budget)
    {
        ArgumentNullException.ThrowIfNull(budget);
        return $"too many request bodies in flight ({budget.Used} of the {budget.Capacity} bytes of maxBodyBytesInFlight); retry later";
    }

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
    /// read, or after decompression) is 413, another encoding 415, broken gzip 400. The body's bytes are reserved from
    /// <paramref name="budget"/> before they are read (its Content-Length at once, else <see cref="ReserveStep"/>s as it
    /// grows): when the budget cannot cover them the answer is 429, and the rest of the body is left unread for
    /// <see cref="DiscardUnreadAsync"/>. What holds: at most the budget's capacity of bodies is held at once.
    /// </summary>
    public static async Task<RequestBody> ReadBodyAsync(HttpContext context, long maxBytes, BodyBudget budget, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(budget);
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

        var reserved = request.ContentLength is { } declared && !gzip ? Math.Min(declared, maxBytes) : ReserveStep;
        if (!budget.TryReserve(reserved))
        {
            return new(null, 0, 429, BudgetRefusal(budget));
        }

        var input = gzip ? new GZipStream(request.Body, CompressionMode.Decompress, leaveOpen: true) : request.Body;
        var kept = false;
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

                if (buffer.Length + n > reserved)
                {
                    var more = buffer.Length + n - reserved + ReserveStep;
                    if (!budget.TryReserve(more))
                    {
                        return new(null, 0, 429, BudgetRefusal(budget));
                    }

                    reserved += more;
                }

                buffer.Write(chunk, 0, n);
            }

            kept = true;
            return new(buffer.GetBuffer(), (int)buffer.Length, 0, null, reserved);
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
            if (!kept)
            {
                budget.Release(reserved);
            }

            if (gzip)
            {
                await input.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// After an answer given before the body was read whole (401, 415, 429, 503, a 413 of records that can never fit),
    /// reads the rest of the body and throws it away, 16 KiB at a time, holding no memory. Without it Kestrel drains an
    /// unread body for 5 seconds only (not configurable) and then closes the connection; a client still sending its
    /// body gets a reset, which can destroy the answer in its socket before it is read: it saw "connection reset"
    /// instead of its 429 and Retry-After. Called once a request's answer is written (and its budget released), by
    /// every HTTP/1.x endpoint that takes a body. Bounded by <paramref name="maxBodyBytes"/> (a declared length over it
    /// is not drained: that client is answered 413 and Kestrel's own drain ends it) and by Kestrel's minimum data rate.
    /// </summary>
    public static async Task DiscardUnreadAsync(HttpContext context, long maxBodyBytes)
    {
        ArgumentNullException.ThrowIfNull(context);
        var request = context.Request;

        // HTTP/2 and gRPC streams end on their own frames; only an HTTP/1.x connection carries the rest of a body.
        if (!HttpMethods.IsPost(request.Method) && !HttpMethods.IsPut(request.Method)
            || !(HttpProtocol.IsHttp11(request.Protocol) || HttpProtocol.IsHttp10(request.Protocol))
            || request.ContentLength is 0
            || request.ContentLength > maxBodyBytes
            || context.RequestAborted.IsCancellationRequested)
        {
            return;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = maxBodyBytes;
        }

        var scratch = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            while (await request.Body.ReadAsync(scratch, context.RequestAborted).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (Exception ex) when (ex is BadHttpRequestException or IOException or OperationCanceledException or InvalidOperationException)
        {
            // The client hung up, went over the limit, or the body was already consumed: it has its answer or does not
            // want it; Kestrel ends the connection.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>
    /// Null when <paramref name="lines"/> can ever fit in the main buffer, else why not (answer 413: retrying the same
    /// request would never succeed). A request is admitted all or none (its 202 means every record is in the buffer),
    /// so one request can never hold more than the buffer does: the reason names the request's count and size, the
    /// bound it passes and the key that sets it, e.g. 8 MiB of 100-byte lines is about 85,000 lines against the
    /// default 20,000 of <c>buffer:capacity</c>.
    /// </summary>
    public static string? CheckFits(List<RawLine> lines, int capacity, long? maxBytes, string noun = "records")
    {
        ArgumentNullException.ThrowIfNull(lines);
        long bytes = 0;
        foreach (var line in lines)
        {
            bytes += line.Size;
        }

        if (lines.Count > capacity)
        {
            return string.Create(CultureInfo.InvariantCulture, $"the request holds {lines.Count} {noun}, more than the main buffer can ever hold ({capacity} {noun}, buffer:capacity); a request is admitted whole, so send at most {capacity} {noun} a request or raise buffer:capacity");
        }

        return bytes > (maxBytes ?? long.MaxValue)
            ? string.Create(CultureInfo.InvariantCulture, $"the request's {lines.Count} {noun} take {bytes} bytes in the buffer, more than the main buffer can ever hold ({maxBytes} bytes, buffer:maxBytes); a request is admitted whole, so send smaller requests or raise buffer:maxBytes")
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
