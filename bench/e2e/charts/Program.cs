// Draws the charts of a bench/e2e results folder: reads RESULTS_DIR/charts.json (written by lib/summarize.py:
// a list of {file, title, xlabel, ylabel, series: [{label, x, y}]} line charts, or {kind: "bar", labels, values})
// and writes each chart as a PNG beside it.
//   e2e-charts RESULTS_DIR
using System.Text.Json;
using System.Text.Json.Serialization;
using ScottPlot;

if (args.Length != 1)
{
    Console.Error.WriteLine("usage: e2e-charts RESULTS_DIR");
    return 2;
}

var specs = JsonSerializer.Deserialize<List<ChartSpec>>(File.ReadAllText(Path.Combine(args[0], "charts.json")), ChartSpec.Json) ?? [];
foreach (var spec in specs)
{
    var plot = new Plot();
    plot.Title(spec.Title);
    plot.XLabel(spec.XLabel ?? string.Empty);
    plot.YLabel(spec.YLabel ?? string.Empty);
    if (spec.Kind == "bar")
    {
        var bars = plot.Add.Bars(spec.Values.ToArray());
        var ticks = spec.Labels.Select((l, i) => new Tick(i, l)).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks);
        plot.Axes.Bottom.TickLabelStyle.Rotation = 30;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Bottom.MinimumSize = 120;
        plot.Axes.Margins(bottom: 0);
        foreach (var bar in bars.Bars)
        {
            bar.Label = bar.Value.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
        }

        bars.ValueLabelStyle.FontSize = 11;
    }
    else
    {
        foreach (var s in spec.Series)
        {
            var line = plot.Add.Scatter(s.X.ToArray(), s.Y.ToArray());
            line.LegendText = s.Label;
            line.MarkerSize = s.X.Count > 40 ? 0 : 5;
            line.LineWidth = 2;
        }

        plot.ShowLegend(Alignment.UpperLeft);
        plot.Axes.Margins(bottom: 0);
    }

    var file = Path.Combine(args[0], spec.File);
    plot.SavePng(file, 1000, 520);
    Console.WriteLine(file);
}

return 0;

/// <summary>One chart of charts.json.</summary>
internal sealed class ChartSpec
{
    public static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true, NumberHandling = JsonNumberHandling.AllowReadingFromString };

    public string File { get; set; } = "chart.png";

    public string Title { get; set; } = string.Empty;

    public string? Kind { get; set; }

    public string? XLabel { get; set; }

    public string? YLabel { get; set; }

    public List<SeriesSpec> Series { get; set; } = [];

    public List<string> Labels { get; set; } = [];

    public List<double> Values { get; set; } = [];
}

/// <summary>One line of a chart.</summary>
internal sealed class SeriesSpec
{
    public string Label { get; set; } = string.Empty;

    public List<double> X { get; set; } = [];

    public List<double> Y { get; set; } = [];
}
