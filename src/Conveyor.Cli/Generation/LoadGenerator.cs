using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;

namespace Conveyor.Cli.Generation;

/// <summary>What <c>conveyor gen</c> is asked to do.</summary>
/// <param name="Target">tcp://H:P, udp://H:P, http://H:P/ingest, or - for stdout.</param>
/// <param name="Rate">Lines per second in total, across servers; bursts of twice that rate come every few seconds.</param>
/// <param name="Duration">Stop after this long; null for no limit.</param>
/// <param name="Count">Stop after this many lines in total; null for no limit.</param>
internal sealed record GenRequest(string Target, string Format, double Rate, int Servers, TimeSpan? Duration, long? Count, int BatchSize = 500);

/// <summary>What a generator run did. Counters are updated live, so a progress view can read them.</summary>
internal sealed class GenProgress
{
    private long _sent;
    private long _bytes;
    private long _refused;
    private long _errors;

    /// <summary>Lines the receiver accepted (or, for TCP, UDP and stdout, that were written).</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>UTF-8 bytes of the lines in <see cref="Sent"/>, each with its newline: the raw size a store is measured against.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Lines the receiver refused (HTTP 429/503); they were sent again after Retry-After.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Send failures (connection refused or reset, HTTP errors other than 429/503).</summary>
    public long Errors => Interlocked.Read(ref _errors);

    public void OnSent(long n, long bytes)
    {
        Interlocked.Add(ref _sent, n);
        Interlocked.Add(ref _bytes, bytes);
    }

    public void OnRefused(long n) => Interlocked.Add(ref _refused, n);

    public void OnError() => Interlocked.Increment(ref _errors);
}

/// <summary>
/// Simulated web servers sending to a receiver at a set rate. Each server runs its own loop: it computes how many
/// lines are due (rate × elapsed, with bursts), generates and sends them, then waits for the next tick. A slow
/// receiver slows it down (TCP blocks, HTTP answers 429): the generator never buffers without bound.
/// </summary>
internal static class LoadGenerator
{
    public static async Task RunAsync(GenRequest request, GenProgress progress, TimeProvider time, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (request.Duration is { } d)
        {
            stop.CancelAfter(d);
        }

        long budget = request.Count ?? long.MaxValue;
        Stream? stdout = request.Target == "-" ? Console.OpenStandardOutput() : null;
        var stdoutLock = new SemaphoreSlim(1, 1);
        using var http = request.Target.StartsWith("http://", StringComparison.OrdinalIgnoreCase) ? new HttpClient { Timeout = TimeSpan.FromSeconds(30) } : null;
        var servers = Enumerable.Range(0, request.Servers).Select(i => RunServerAsync(i, request, progress, time, () => Interlocked.Decrement(ref budget) >= 0, stdout, stdoutLock, http, stop.Token));
        try
        {
            await Task.WhenAll(servers).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        finally
        {
            if (stdout is not null)
            {
                await stdout.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                await stdout.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static async Task RunServerAsync(
        int server, GenRequest request, GenProgress progress, TimeProvider time, Func<bool> take, Stream? stdout, SemaphoreSlim stdoutLock, HttpClient? http, CancellationToken ct)
    {
        var generator = new LineGenerator(request.Format, server, seed: 1000 + server);
        var rate = request.Rate / request.Servers;
        var batch = new StringBuilder(request.BatchSize * 200);
        var started = time.GetTimestamp();
        double due = 0;
        var last = 0.0;
        var exhausted = false;
        await using var sender = await Sender.OpenAsync(request.Target, http, stdout, stdoutLock, progress, time, ct).ConfigureAwait(false);
        while (!ct.IsCancellationRequested && !exhausted)
        {
            var elapsed = time.GetElapsedTime(started).TotalSeconds;

            // Bursts: for half a second in every five, servers send at twice the rate (the average is 1.1x).
            var burst = Math.Floor(elapsed) % 5 == 0 && elapsed % 1 < 0.5;
            due += rate * (burst ? 2 : 1) * (elapsed - last);
            last = elapsed;

            // A receiver that held us up does not earn a flood afterwards: at most a second of lines is owed.
            due = Math.Min(due, Math.Max(rate, request.BatchSize));
            var n = (int)Math.Min(due, request.BatchSize);
            if (n == 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(5), time, ct).ConfigureAwait(false);
                continue;
            }

            batch.Clear();
            var lines = 0;
            var now = time.GetUtcNow();
            for (var i = 0; i < n; i++)
            {
                if (!take())
                {
                    exhausted = true;
                    break;
                }

                batch.Append(generator.Next(now)).Append('\n');
                lines++;
            }

            due -= n;
            if (lines > 0)
            {
                await sender.SendAsync(batch.ToString(), lines, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Sends batches of lines to one kind of receiver.</summary>
    private abstract class Sender : IAsyncDisposable
    {
        protected Sender(GenProgress progress) => Progress = progress;

        protected GenProgress Progress { get; }

        public static async Task<Sender> OpenAsync(string target, HttpClient? http, Stream? stdout, SemaphoreSlim stdoutLock, GenProgress progress, TimeProvider time, CancellationToken ct)
        {
            if (stdout is not null)
            {
                return new StdoutSender(stdout, stdoutLock, progress);
            }

            if (http is not null)
            {
                var uri = new Uri(target);
                if (uri.AbsolutePath is "/" or "")
                {
                    uri = new Uri(uri, "/ingest");
                }

                return new HttpSender(http, uri, progress, time);
            }

            var sep = target.IndexOf("://", StringComparison.Ordinal);
            var scheme = sep < 0 ? string.Empty : target[..sep].ToLowerInvariant();
            var authority = target[(sep + 3)..].TrimEnd('/');
            var colon = authority.LastIndexOf(':');
            var host = authority[..colon].Trim('[', ']');
            var port = int.Parse(authority[(colon + 1)..], CultureInfo.InvariantCulture);
            if (scheme == "udp")
            {
                var udp = new UdpClient();
                udp.Connect(host, port);
                return new UdpSender(udp, progress);
            }

            var tcp = new TcpClient { NoDelay = false };
            await tcp.ConnectAsync(host, port, ct).ConfigureAwait(false);
            return new TcpSender(tcp, progress);
        }

        public abstract Task SendAsync(string lines, int count, CancellationToken ct);

        public abstract ValueTask DisposeAsync();
    }

    private sealed class StdoutSender(Stream stdout, SemaphoreSlim gate, GenProgress progress) : Sender(progress)
    {
        public override async Task SendAsync(string lines, int count, CancellationToken ct)
        {
            var bytes = Encoding.UTF8.GetBytes(lines);
            await gate.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                await stdout.WriteAsync(bytes, ct).ConfigureAwait(false);
            }
            finally
            {
                gate.Release();
            }

            Progress.OnSent(count, bytes.Length);
        }

        public override ValueTask DisposeAsync() => default;
    }

    private sealed class TcpSender(TcpClient client, GenProgress progress) : Sender(progress)
    {
        private readonly NetworkStream _stream = client.GetStream();

        public override async Task SendAsync(string lines, int count, CancellationToken ct)
        {
            // A receiver that stops reading fills the socket buffers, and this write waits: TCP back-pressure.
            // The write itself is not cancelled, so a stop never cuts a line in half; a stop only stops the waiting,
            // with a short grace for the write under way.
            var bytes = Encoding.UTF8.GetBytes(lines);
            var write = _stream.WriteAsync(bytes, CancellationToken.None).AsTask();
            try
            {
                await write.WaitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                try
                {
                    await write.WaitAsync(TimeSpan.FromSeconds(2), CancellationToken.None).ConfigureAwait(false);
                    Progress.OnSent(count, bytes.Length);
                }
                catch (TimeoutException)
                {
                    // Still blocked by the receiver: the batch counts as not sent.
                }

                throw;
            }

            Progress.OnSent(count, bytes.Length);
        }

        public override async ValueTask DisposeAsync()
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
            client.Dispose();
        }
    }

    private sealed class UdpSender(UdpClient client, GenProgress progress) : Sender(progress)
    {
        public override async Task SendAsync(string lines, int count, CancellationToken ct)
        {
            foreach (var line in lines.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                await client.SendAsync(Encoding.UTF8.GetBytes(line), ct).ConfigureAwait(false);
            }

            Progress.OnSent(count, Encoding.UTF8.GetByteCount(lines));
        }

        public override ValueTask DisposeAsync()
        {
            client.Dispose();
            return default;
        }
    }

    private sealed class HttpSender(HttpClient client, Uri uri, GenProgress progress, TimeProvider time) : Sender(progress)
    {
        public override async Task SendAsync(string lines, int count, CancellationToken ct)
        {
            var body = Encoding.UTF8.GetBytes(lines);
            while (true)
            {
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
                HttpResponseMessage response;
                try
                {
                    response = await client.PostAsync(uri, content, ct).ConfigureAwait(false);
                }
                catch (HttpRequestException)
                {
                    Progress.OnError();
                    await Task.Delay(TimeSpan.FromSeconds(1), time, ct).ConfigureAwait(false);
                    continue;
                }

                using (response)
                {
                    var status = (int)response.StatusCode;
                    if (status == 202)
                    {
                        Progress.OnSent(count, body.Length);
                        return;
                    }

                    if (status is 429 or 503)
                    {
                        // The receiver said when to come back: honour it rather than hammer it.
                        Progress.OnRefused(count);
                        var wait = response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1);
                        await Task.Delay(wait, time, ct).ConfigureAwait(false);
                        continue;
                    }

                    Progress.OnError();
                    return;
                }
            }
        }

        public override ValueTask DisposeAsync() => default;
    }
}
