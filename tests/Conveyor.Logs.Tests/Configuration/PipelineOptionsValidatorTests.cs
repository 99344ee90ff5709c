using Conveyor.Logs.Configuration;

namespace Conveyor.Logs.Tests.Configuration;

public sealed class PipelineOptionsValidatorTests
{
    [Fact]
    public void Validate_Defaults_WithOneSourceAndSink_AreValid()
    {
        var options = new PipelineOptions
        {
            Sources = [new SourceOptions { Type = SourceType.Tcp, Port = 5170 }],
            Sinks = [new SinkOptions { Uri = "null:" }],
        };
        Assert.Empty(PipelineOptionsValidator.Validate(options));
    }

    [Fact]
    public void Validate_EveryProblem_ReportedWithItsKey()
    {
        var options = new PipelineOptions
        {
            Sources =
            [
                new SourceOptions { Type = SourceType.Tcp, Port = 70000 },
                new SourceOptions { Type = SourceType.File },
                new SourceOptions { Type = SourceType.Udp, Port = 9, Format = "xml" },
                new SourceOptions { Type = SourceType.Tcp, Port = 9, Name = "dup" },
                new SourceOptions { Type = SourceType.Tcp, Port = 9, Name = "dup" },
            ],
            Buffer = new BufferSettings { Capacity = 0, MaxBytes = 10 },
            Sinks = [new SinkOptions { Uri = "" }],
        };
        var errors = PipelineOptionsValidator.Validate(options);
        Assert.Contains("sources:0:port: must be 1-65535 (was 70000)", errors);
        Assert.Contains(errors, e => e.StartsWith("sources:1:path: required", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("sources:2:format: unknown format 'xml'", StringComparison.Ordinal));
        Assert.Contains("sources:4:name: 'dup' is used by another source", errors);
        Assert.Contains("sources:4:port: 9 is used by another TCP source", errors);
        Assert.Contains("buffer:capacity: must be at least 1 (was 0)", errors);
        Assert.Contains("buffer:maxBytes: must be at least 1024 (was 10)", errors);
        Assert.Contains(errors, e => e.StartsWith("sinks:0:uri: required", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_NoSourcesOrSinks_SaysAtLeastOne()
    {
        var errors = PipelineOptionsValidator.Validate(new PipelineOptions());
        Assert.Contains("sources: at least one source is required", errors);
        Assert.Contains("sinks: at least one sink is required", errors);
    }
}
