using System.Globalization;
using Conveyor.Cli.Generation;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Diagnostics;
using Spectre.Console;

namespace Conveyor.Cli.Hosting;

/// <summary>
/// <c>conveyor run --demo</c>: the service plus three simulated web servers at the seed's 50,000 lines/s peak, sent
/// over TCP (or HTTP when there is no TCP source), with a live view: a Spectre.Console table on a terminal, plain
/// progress lines on stderr otherwise.
/// </summary>
internal static class DemoRunner
{
    /// <summary>The demo's total rate: the seed's peak.</summary>
    public const double PeakRate = 50_000;

    public static async Task<int> RunAsync(PipelineOptions options)
    {
        var target = options.Sources.FirstOrDefault(static s => s.Type == SourceType.Tcp) is { } tcp
            ? $"tcp://{tcp.Host}:{tcp.Port}"
            : options.Sources.First(static s => s.Type == SourceType.Http) is var http ? $"http://{http.Host}:{http.Port}/ingest" : "-";
        var dashboard = options.Sources.FirstOrDefault(static s => s.Type == SourceType.Http) is { } h ? $"http://{h.Host}:{h.Port}/" : null;
        var live = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        using var stop = new CancellationTokenSource();
        var background = new List<Task>();
        var code = await ServiceHost.RunAsync(
            options,
            (services, service) =>
            {
                var lifetime = services.GetRequiredService<IHostApplicationLifetime>();
                lifetime.ApplicationStopping.Register(stop.Cancel);
                var progress = new GenProgress();
                var request = new GenRequest(target, "combined", PeakRate, 3, null, null);
                background.Add(Task.Run(() => LoadGenerator.RunAsync(request, progress, TimeProvider.System, stop.Token)));
                background.Add(live
                    ? Task.Run(() => LiveViewAsync(service, progress, dashboard, stop.Token))
                    : Task.Run(() => PlainProgressAsync(service, progress, dashboard, stop.Token)));
            },
            live ? LogLevel.Warning : LogLevel.Information).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(background).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or System.Net.Sockets.SocketException or HttpRequestException)
        {
            // The generator and the view stop with the service; connection errors at that moment are expected.
        }

        return code;
    }

    private static async Task LiveViewAsync(PipelineService service, GenProgress progress, string? dashboard, CancellationToken ct)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("[bold]Conveyor demo[/] — 3 web servers at 50,000 lines/s; Ctrl+C drains and stops");
        table.AddColumn("stage");
        table.AddColumn(new TableColumn("in/s").RightAligned());
        table.AddColumn(new TableColumn("out/s").RightAligned());
        table.AddColumn(new TableColumn("fill").RightAligned());
        table.AddColumn(new TableColumn("dropped").RightAligned());
        table.AddColumn(new TableColumn("dead letters").RightAligned());
        table.AddColumn(new TableColumn("sent / stored").RightAligned());
        table.Caption(dashboard is null ? "no HTTP source: no dashboard" : $"dashboard {dashboard}  ·  metrics {dashboard}metrics  ·  state {dashboard}api/pipeline");
        await AnsiConsole.Live(table).AutoClear(false).StartAsync(async ctx =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500));
            while (!ct.IsCancellationRequested)
            {
                if (service.Topology is { } t)
                {
                    Fill(table, t.GetSnapshot(), progress);
                    ctx.Refresh();
                }

                try
                {
                    await timer.WaitForNextTickAsync(ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }).ConfigureAwait(false);
    }

    private static void Fill(Table table, PipelineSnapshot s, GenProgress progress)
    {
        table.Rows.Clear();
        var inv = CultureInfo.InvariantCulture;
        table.AddRow("generator", string.Empty, string.Empty, string.Empty, string.Empty, string.Empty, progress.Sent.ToString("N0", inv));
        foreach (var stage in s.Stages)
        {
            var dropped = stage.Dropped.Values.Sum();
            table.AddRow(
                Markup.Escape(stage.Name),
                stage.RateIn.ToString("N0", inv),
                stage.RateOut.ToString("N0", inv),
                stage.Fill is { } f ? Bar(f) : string.Empty,
                dropped == 0 ? "0" : $"[red]{dropped.ToString("N0", inv)}[/]",
                stage.DeadLettered.ToString("N0", inv),
                stage.Sent.ToString("N0", inv));
        }

        foreach (var sink in s.Sinks)
        {
            table.AddRow(
                $"[bold]{Markup.Escape(sink.Sink)}[/] total",
                string.Empty,
                string.Empty,
                string.Empty,
                sink.Dropped.ToString("N0", inv),
                sink.DeadLettered.ToString("N0", inv),
                $"{sink.Stored.ToString("N0", inv)} {(sink.Balanced ? "[green]balanced[/]" : "[yellow]moving[/]")}");
        }
    }

    private static string Bar(double fill)
    {
        var width = 10;
        var full = (int)Math.Round(Math.Clamp(fill, 0, 1) * width);
        var color = fill > 0.9 ? "red" : fill > 0.5 ? "yellow" : "green";
        return $"[{color}]{new string('█', full)}{new string('·', width - full)}[/] {fill.ToString("P0", CultureInfo.InvariantCulture)}";
    }

    private static async Task PlainProgressAsync(PipelineService service, GenProgress progress, string? dashboard, CancellationToken ct)
    {
        if (dashboard is not null)
        {
            await Console.Error.WriteLineAsync($"demo: dashboard {dashboard}, metrics {dashboard}metrics").ConfigureAwait(false);
        }

        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(2));
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                if (service.Topology is not { } t)
                {
                    continue;
                }

                var s = t.GetSnapshot();
                var main = s.Stages.First(static x => x.Name == "main");
                var stored = string.Join(", ", s.Sinks.Select(static k => $"{k.Sink} {k.Stored:N0}"));
                await Console.Error.WriteLineAsync(
                    $"demo: generated {progress.Sent:N0}, in {main.RateIn:N0}/s, out {main.RateOut:N0}/s, main buffer {main.Fill:P0}, stored {stored}, dead letters {s.Sinks.Sum(static k => k.DeadLettered):N0}").ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
