using System.CommandLine;
using System.Runtime.InteropServices;
using Conveyor.Cli.Generation;
using Conveyor.Logs.Configuration;

namespace Conveyor.Cli.Commands;

/// <summary><c>conveyor gen</c> (docs/REFERENCE.md, "Command line"): simulated web servers sending realistic log lines at a set rate.</summary>
internal static class GenCommand
{
    public static Command Create()
    {
        var rate = new Option<double>("--rate") { Description = "Lines per second in total, with bursts of twice that. Default 1000.", DefaultValueFactory = _ => 1000 };
        var duration = new Option<string?>("--duration") { Description = "Stop after this long (e.g. 30s, 5m). Default: until --count or Ctrl+C." };
        var count = new Option<long?>("--count") { Description = "Stop after this many lines in total." };
        var servers = new Option<int>("--servers") { Description = "Simulated web servers, each with its own connection. Default 3.", DefaultValueFactory = _ => 3 };
        var format = new Option<string>("--format") { Description = "combined|common|json|logfmt|syslog5424|syslog3164. Default combined.", DefaultValueFactory = _ => "combined" };
        format.AcceptOnlyFromAmong([.. LineGenerator.Formats]);
        var to = new Option<string>("--to") { Description = "tcp://H:P, http://H:P/ingest (batched; honours 429 Retry-After), udp://H:P, or - for stdout. Default -.", DefaultValueFactory = _ => "-" };
        var batch = new Option<int>("--batch") { Description = "Lines per send (per HTTP request). Default 500.", DefaultValueFactory = _ => 500 };
        var command = new Command("gen", "Generate realistic web-server logs at a set rate, to a receiver or stdout; reports what was sent and refused on stderr.")
        {
            rate,
            duration,
            count,
            servers,
            format,
            to,
            batch,
        };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            TimeSpan? limit = null;
            if (r.GetValue(duration) is { } text)
            {
                if (!Durations.TryParse(text, out var d))
                {
                    await Console.Error.WriteLineAsync($"conveyor gen: --duration: expected e.g. 30s or 5m (was '{text}')").ConfigureAwait(false);
                    return 2;
                }

                limit = d;
            }

            var request = new GenRequest(r.GetValue(to)!, r.GetValue(format)!, r.GetValue(rate), r.GetValue(servers), limit, r.GetValue(count), r.GetValue(batch));
            if (request.Rate <= 0 || request.Servers < 1 || request.BatchSize < 1)
            {
                await Console.Error.WriteLineAsync("conveyor gen: --rate, --servers and --batch must be positive").ConfigureAwait(false);
                return 2;
            }

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
            return await RunAsync(request, stop.Token).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> RunAsync(GenRequest request, CancellationToken ct)
    {
        var progress = new GenProgress();
        var time = TimeProvider.System;
        var started = time.GetTimestamp();
        var run = LoadGenerator.RunAsync(request, progress, time, ct);
        using var ticker = new PeriodicTimer(TimeSpan.FromSeconds(2), time);
        var failed = false;
        while (!run.IsCompleted)
        {
            var tick = ticker.WaitForNextTickAsync(CancellationToken.None).AsTask();
            await Task.WhenAny(run, tick).ConfigureAwait(false);
            if (!run.IsCompleted)
            {
                await Console.Error.WriteLineAsync($"gen: sent {progress.Sent:N0}, refused {progress.Refused:N0}, errors {progress.Errors:N0}").ConfigureAwait(false);
            }
        }

        try
        {
            await run.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException or HttpRequestException)
        {
            await Console.Error.WriteLineAsync($"gen: {request.Target}: {ex.Message}").ConfigureAwait(false);
            failed = true;
        }

        var seconds = Math.Max(0.001, time.GetElapsedTime(started).TotalSeconds);
        await Console.Error.WriteLineAsync(
            $"gen: sent {progress.Sent:N0} lines in {seconds:0.0} s ({progress.Sent / seconds:N0} lines/s) to {request.Target}; receiver refused {progress.Refused:N0} (sent again after Retry-After); errors {progress.Errors:N0}; {progress.Bytes} bytes").ConfigureAwait(false);
        return failed ? 1 : 0;
    }
}
