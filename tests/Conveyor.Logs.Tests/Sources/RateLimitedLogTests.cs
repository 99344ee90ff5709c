using Conveyor.Logs.Sources;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Conveyor.Logs.Tests.Sources;

public sealed class RateLimitedLogTests
{
    [Fact]
    public void Warn_FloodOfFaults_LogsTheBurstThenOneSummaryAMinute()
    {
        var log = new FakeLogger();
        var time = new FakeTimeProvider();
        var faults = new RateLimitedLog(log, "http-8080", "client fault", time);
        for (var i = 0; i < 500; i++)
        {
            faults.Warn("127.0.0.1:" + i, "the request body arrived too slowly");
        }

        Assert.Equal(RateLimitedLog.Burst, log.Collector.Count);
        Assert.All(log.Collector.GetSnapshot(), r => Assert.Null(r.Exception));
        Assert.All(log.Collector.GetSnapshot(), r => Assert.DoesNotContain('\n', r.Message));

        time.Advance(RateLimitedLog.Interval);
        Assert.Equal(RateLimitedLog.Burst + 1, log.Collector.Count);
        Assert.Contains("490 more of client fault in the last 60 s", log.LatestRecord.Message, StringComparison.Ordinal);

        // A new window: the next faults are logged one by one again; a quiet window logs nothing.
        faults.Warn("127.0.0.1:1", "reset");
        Assert.Equal(RateLimitedLog.Burst + 2, log.Collector.Count);
        time.Advance(RateLimitedLog.Interval);
        time.Advance(RateLimitedLog.Interval);
        Assert.Equal(RateLimitedLog.Burst + 2, log.Collector.Count);
    }
}
