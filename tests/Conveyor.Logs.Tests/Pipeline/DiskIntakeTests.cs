using System.Text;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Pipeline;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conveyor.Logs.Tests.Pipeline;

public sealed class DiskIntakeTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "conveyor-intake-tests", Guid.NewGuid().ToString("N"));
    private readonly SourceInfo _source = new("tcp", "tcp", LogParsers.Create("auto"));

    [Fact]
    public void Codec_RoundTrip_KeepsEveryField()
    {
        var line = new RawLine(Encoding.UTF8.GetBytes("hello ü"), _source, "tcp:42", new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.FromHours(2)), "too long");
        var back = RawLineCodec.Decode(RawLineCodec.Encode(line), name => name == "tcp" ? _source : throw new InvalidOperationException(name));
        Assert.Equal(line.Data, back.Data);
        Assert.Same(_source, back.Source);
        Assert.Equal(line.Id, back.Id);
        Assert.Equal(line.ReceivedAt, back.ReceivedAt);
        Assert.Equal(line.ReceivedAt.Offset, back.ReceivedAt.Offset);
        Assert.Equal("too long", back.Refusal);
        Assert.Null(RawLineCodec.Decode(RawLineCodec.Encode(line with { Refusal = null }), _ => _source).Refusal);
    }

    [Fact]
    public void Codec_NotALine_Throws()
    {
        Assert.Throws<InvalidDataException>(() => RawLineCodec.Decode([9, 1, 2], _ => _source));
    }

    [Fact]
    public async Task Replay_AfterRestart_UnacknowledgedLinesComeBackWithTheirIdsAndAcknowledgementsRemoveThem()
    {
        var settings = new BufferSettings { Type = BufferType.Disk, Path = _root };
        var main = new BoundedBuffer<RawLine>(100);
        var intake = DiskIntake.Open(settings, main.Writer, _ => _source, NullLogger.Instance, TimeProvider.System);
        var lines = Enumerable.Range(0, 5).Select(i => new RawLine(Encoding.UTF8.GetBytes($"line {i}"), _source, $"tcp:{i}", DateTimeOffset.UtcNow)).ToList();
        Assert.True(await intake.WriteAllAsync(lines, CancellationToken.None));
        intake.StartReplay();
        var first = await main.Reader.ReadBatchAsync(5, long.MaxValue, TimeSpan.FromSeconds(5));
        Assert.Equal(lines.Select(l => l.Id), first.Select(l => l.Id));
        first[0].Ack!.Complete(DeliveryOutcome.Delivered);
        first[1].Ack!.Complete(DeliveryOutcome.DeadLettered);
        await intake.DisposeAsync();

        var again = new BoundedBuffer<RawLine>(100);
        await using var reopened = DiskIntake.Open(settings, again.Writer, _ => _source, NullLogger.Instance, TimeProvider.System);
        Assert.Equal(3, reopened.Disk.Recovery.Replayed);
        reopened.StartReplay();
        var replayed = await again.Reader.ReadBatchAsync(3, long.MaxValue, TimeSpan.FromSeconds(5));
        Assert.Equal(["tcp:2", "tcp:3", "tcp:4"], replayed.Select(l => l.Id));
        Assert.Equal("line 3", Encoding.UTF8.GetString(replayed[1].Data));
    }

    [Fact]
    public void Open_PathThatCannotBeCreated_FailsNamingTheKeyAndPath()
    {
        Directory.CreateDirectory(_root);
        var file = Path.Combine(_root, "file");
        File.WriteAllText(file, "x");
        var settings = new BufferSettings { Type = BufferType.Disk, Path = Path.Combine(file, "buffer") };
        var error = Assert.Throws<BufferUnavailableException>(() => DiskIntake.Open(settings, new BoundedBuffer<RawLine>(10).Writer, _ => _source, NullLogger.Instance, TimeProvider.System));
        Assert.StartsWith("buffer:path:", error.Message, StringComparison.Ordinal);
        Assert.Contains(file, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_DiskSinkQueueAndBadDiskSettings_NameTheKeys()
    {
        var options = new PipelineOptions
        {
            Sources = [new SourceOptions { Type = SourceType.Tcp, Port = 5170 }],
            Buffer = new BufferSettings { Type = BufferType.Disk, Path = " ", MaxDiskBytes = 10 },
            Sinks = [new SinkOptions { Uri = "null:", Queue = new BufferSettings { Type = BufferType.Disk } }],
        };
        var errors = PipelineOptionsValidator.Validate(options);
        Assert.Contains(errors, e => e.StartsWith("buffer:path:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("buffer:maxDiskBytes:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("sinks:0:queue:type:", StringComparison.Ordinal));
    }

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }
}
