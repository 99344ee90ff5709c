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
    public void Validate_DuckDbEngineSettingsOutOfRange_ReportedWithTheirKeys()
    {
        var options = new PipelineOptions
        {
            Sources = [new SourceOptions { Type = SourceType.Tcp, Port = 5170 }],
            Sinks =
            [
                new SinkOptions { Uri = "duckdb:a.duckdb", BatchMaxItems = 0, DuckDb = new() { CheckpointThreshold = 1000 } },
                new SinkOptions { Uri = "duckdb:b.duckdb", DuckDb = new() { CheckpointThreshold = 2L << 30, Threads = 0, Writers = 9 } },
                new SinkOptions { Uri = "duckdb:c.duckdb", BatchMaxItems = 100_000, DuckDb = new() { CheckpointThreshold = 1L << 30, Writers = 8 } },
            ],
        };
        var errors = PipelineOptionsValidator.Validate(options);
        Assert.Contains("sinks:0:batchMaxItems: must be 1-100000 (was 0)", errors);
        Assert.Contains("sinks:0:duckdb:checkpointThreshold: must be 1048576-1073741824 bytes (was 1000)", errors);
        Assert.Contains("sinks:1:duckdb:checkpointThreshold: must be 1048576-1073741824 bytes (was 2147483648)", errors);
        Assert.Contains(errors, e => e.StartsWith("sinks:1:duckdb:threads:", StringComparison.Ordinal));
        Assert.Contains("sinks:1:duckdb:writers: must be 1-8 (was 9)", errors);
        Assert.DoesNotContain(errors, e => e.StartsWith("sinks:2:", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_NoSourcesOrSinks_SaysAtLeastOne()
    {
        var errors = PipelineOptionsValidator.Validate(new PipelineOptions());
        Assert.Contains("sources: at least one source is required", errors);
        Assert.Contains("sinks: at least one sink is required", errors);
    }

    [Fact]
    public void Validate_Amqp_BadUrisAndRawWithParsingSources_ReportedWithTheirKeys()
    {
        var options = new PipelineOptions
        {
            Sources =
            [
                new SourceOptions { Type = SourceType.Amqp },
                new SourceOptions { Type = SourceType.Amqp, Name = "w2", Uri = "amqp://g:g@127.0.0.1/?prefetch=0" },
                new SourceOptions { Type = SourceType.Tcp, Port = 5170 },
            ],
            Sinks = [new SinkOptions { Uri = "amqp://g:g@127.0.0.1/?format=raw" }, new SinkOptions { Uri = "amqp://g:g@127.0.0.1/?window=0" }],
        };
        var errors = PipelineOptionsValidator.Validate(options);
        Assert.Contains(errors, e => e.StartsWith("sources:0:uri: required for an amqp source", StringComparison.Ordinal));
        Assert.Contains("sources:1:uri: prefetch: must be 1-65535 (was '0')", errors);
        Assert.Contains("sinks:0:uri: format=raw forwards lines unparsed, so every source's format must be plain (sources:0:format is auto)", errors);
        Assert.Contains("sinks:1:uri: window: must be 1-10000 (was '0')", errors);
    }

    [Fact]
    public void Validate_AmqpEdgeAndWorker_AreValid()
    {
        Assert.Empty(PipelineOptionsValidator.Validate(new PipelineOptions
        {
            Sources = [new SourceOptions { Type = SourceType.Tcp, Port = 5170, Format = "plain" }],
            Sinks = [new SinkOptions { Uri = "amqp://g:g@127.0.0.1:5672/?queue=logs&format=raw" }],
        }));
        Assert.Empty(PipelineOptionsValidator.Validate(new PipelineOptions
        {
            Sources = [SourceUri.Parse("amqp://g:g@127.0.0.1:5672/logs?queue=logs")],
            Sinks = [new SinkOptions { Uri = "null:" }],
        }));
    }
}
