using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;

namespace Conveyor.Benchmarks;

/// <summary>Shows ratios to the baseline, the figure that survives a noisy 2-core machine.</summary>
public sealed class RatioConfig : ManualConfig
{
    public RatioConfig()
    {
        SummaryStyle = SummaryStyle.Default.WithRatioStyle(RatioStyle.Trend);
        AddColumn(BaselineRatioColumn.RatioMean);
        HideColumns(Column.Error, Column.StdDev, Column.Median, Column.RatioSD);
    }
}
