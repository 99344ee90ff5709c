using Conveyor.Logs.Diagnostics;
using Microsoft.Extensions.Time.Testing;

namespace Conveyor.Logs.Tests.Diagnostics;

public sealed class RateWindowTests
{
    [Fact]
    public void Rate_CounterDeltasOverWindow_PerSecond()
    {
        var time = new FakeTimeProvider();
        var window = new RateWindow(time, size: 3);
        window.Add(new() { ["a"] = 0 });
        time.Advance(TimeSpan.FromSeconds(1));
        window.Add(new() { ["a"] = 100, ["late"] = 10 });
        time.Advance(TimeSpan.FromSeconds(1));
        window.Add(new() { ["a"] = 300, ["late"] = 60 });

        Assert.Equal(150, window.Rate("a"));

        // A key that appeared after the first sample is measured from its own first sample.
        Assert.Equal(50, window.Rate("late"));
        Assert.Equal(0, window.Rate("absent"));

        // The window slides: the oldest sample falls out.
        time.Advance(TimeSpan.FromSeconds(1));
        window.Add(new() { ["a"] = 300, ["late"] = 60 });
        Assert.Equal(100, window.Rate("a"));
    }
}
