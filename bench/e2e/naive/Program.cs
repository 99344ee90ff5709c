// The naive pipeline of the overload comparison (bench/e2e, issue 6): the seed's "Attempt 1". TCP lines go into an
// unbounded ConcurrentQueue as fast as they arrive; one consumer takes up to BATCH lines, parses and enriches them
// with Conveyor's parser and enrichers, then waits DELAY (the slow sink) per batch. Nothing ever pushes back on
// the sender, so under overload the queue, and the process's memory, grow until the run ends.
//   e2e-naive PORT BATCH DELAY_MS
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Conveyor.Logs.Enrichment;
using Conveyor.Logs.Parsing;

if (args.Length != 3)
{
    Console.Error.WriteLine("usage: e2e-naive PORT BATCH DELAY_MS");
    return 2;
}

var port = int.Parse(args[0], CultureInfo.InvariantCulture);
var batch = int.Parse(args[1], CultureInfo.InvariantCulture);
var delay = TimeSpan.FromMilliseconds(double.Parse(args[2], CultureInfo.InvariantCulture));
var queue = new ConcurrentQueue<string>();
long received = 0, stored = 0;
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();

var listener = new TcpListener(IPAddress.Loopback, port);
listener.Start();
Console.WriteLine($"naive: listening on 127.0.0.1:{port}, batch {batch}, {delay.TotalMilliseconds} ms per batch");

var consumer = Task.Run(async () =>
{
    var parser = LogParsers.Create("combined");
    using var enrichers = EnricherChain.Create(new EnricherOptions());
    long id = 0;
    while (!stop.IsCancellationRequested)
    {
        var n = 0;
        while (n < batch && queue.TryDequeue(out var line))
        {
            var outcome = parser.Parse(Encoding.UTF8.GetBytes(line), new LineContext("tcp", "naive:" + id++, DateTimeOffset.UtcNow));
            if (outcome.Event is { } e)
            {
                enrichers.Apply(e);
            }

            n++;
        }

        try
        {
            await Task.Delay(n == 0 ? TimeSpan.FromMilliseconds(1) : delay, stop.Token);
        }
        catch (OperationCanceledException)
        {
            break;
        }

        Interlocked.Add(ref stored, n);
    }
});

var reporter = Task.Run(async () =>
{
    using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
    while (await timer.WaitForNextTickAsync(stop.Token).ConfigureAwait(false))
    {
        Console.WriteLine($"received {Interlocked.Read(ref received)} stored {Interlocked.Read(ref stored)} queued {queue.Count}");
    }
});

try
{
    while (!stop.IsCancellationRequested)
    {
        var client = await listener.AcceptTcpClientAsync(stop.Token);
        _ = Task.Run(async () =>
        {
            using var c = client;
            using var reader = new StreamReader(c.GetStream(), Encoding.UTF8);
            while (await reader.ReadLineAsync(stop.Token) is { } line)
            {
                queue.Enqueue(line);
                Interlocked.Increment(ref received);
            }
        });
    }
}
catch (OperationCanceledException)
{
}

listener.Stop();
try
{
    await Task.WhenAll(consumer, reporter);
}
catch (OperationCanceledException)
{
}

return 0;
