using System.Text;
using System.Text.Json;
using Conveyor.Logs.Model;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.Ndjson;
using Conveyor.Logs.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace Conveyor.Logs.Tests.Sinks.Ndjson;

public sealed class NdjsonSinkContractTests : SinkContractTests
{
    private readonly string _folder = TestEvents.TempFolder();

    private string FilePath => Path.Combine(_folder, "events.ndjson");

    /// <summary>Files are append-only: a replayed batch is written again (at-least-once).</summary>
    protected override bool IsIdempotent => false;

    protected override Task<ILogSink> OpenSinkAsync() =>
        Task.FromResult<ILogSink>(NdjsonSink.Open(new NdjsonSinkOptions { Path = FilePath, MaxEventBytes = 4096 }));

    protected override Task<long> CountStoredAsync() => Task.FromResult(
        (long)Directory.GetFiles(_folder, "events*.ndjson").Where(f => !f.Contains(".dead-letters", StringComparison.Ordinal)).Sum(f => File.ReadAllLines(f).Length));

    protected override Task<long> CountDeadLettersAsync()
    {
        var path = Path.Combine(_folder, "events.dead-letters.ndjson");
        return Task.FromResult(File.Exists(path) ? (long)File.ReadAllLines(path).Length : 0);
    }

    protected override LogEvent Poison(string id) => new(id, "web", new string('x', 10_000), TestEvents.Base);
}

public sealed class NdjsonSinkTests
{
    private readonly string _folder = TestEvents.TempFolder();

    [Fact]
    public async Task WriteBatchAsync_OverMaxFileBytes_RotatesToTimestampedFiles()
    {
        var clock = new FakeTimeProvider(TestEvents.Base);
        var path = Path.Combine(_folder, "out.ndjson");
        await using (var sink = NdjsonSink.Open(new NdjsonSinkOptions { Path = path, MaxFileBytes = 4096, RotationInterval = null }, clock))
        {
            for (var i = 0; i < 20; i++)
            {
                await sink.WriteBatchAsync(TestEvents.Batch("z", 5, i * 5), default);
            }
        }

        var files = Directory.GetFiles(_folder, "out*.ndjson");
        Assert.True(files.Length > 3, $"{files.Length} files");
        Assert.Contains(files, f => Path.GetFileName(f) == "out.20261120T100000Z.ndjson");
        Assert.Contains(files, f => Path.GetFileName(f) == "out.20261120T100000Z-1.ndjson");
        Assert.All(files, f => Assert.True(new FileInfo(f).Length <= 4096 || File.ReadAllLines(f).Length == 5));
        Assert.Equal(100, files.Sum(f => File.ReadAllLines(f).Length));
    }

    [Fact]
    public async Task WriteBatchAsync_AfterRotationInterval_StartsNewFile()
    {
        var clock = new FakeTimeProvider(TestEvents.Base);
        var path = Path.Combine(_folder, "t.ndjson");
        await using (var sink = NdjsonSink.Open(new NdjsonSinkOptions { Path = path, RotationInterval = TimeSpan.FromHours(1) }, clock))
        {
            await sink.WriteBatchAsync(TestEvents.Batch("a", 3), default);
            clock.Advance(TimeSpan.FromMinutes(59));
            await sink.WriteBatchAsync(TestEvents.Batch("b", 3), default);
            clock.Advance(TimeSpan.FromMinutes(1));
            await sink.WriteBatchAsync(TestEvents.Batch("c", 3), default);
        }

        Assert.Equal(6, File.ReadAllLines(Path.Combine(_folder, "t.20261120T110000Z.ndjson")).Length);
        Assert.Equal(3, File.ReadAllLines(path).Length);
    }

    [Fact]
    public async Task ForStream_Events_WritesLogEventJsonLinesAndInlineDeadLetters()
    {
        using var ms = new MemoryStream();
        var e = TestEvents.Access("s", 1);
        await using (var sink = NdjsonSink.ForStream(ms))
        {
            await sink.WriteBatchAsync([e], default);
            await sink.WriteDeadLettersAsync([new DeadLetter("d", "tcp", "json", "bad", "{", TestEvents.Base)], default);
        }

        var lines = Encoding.UTF8.GetString(ms.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        using var expected = new MemoryStream();
        using (var w = new Utf8JsonWriter(expected, LogEventJson.WriterOptions))
        {
            LogEventJson.Write(w, e);
        }

        Assert.Equal(Encoding.UTF8.GetString(expected.ToArray()), lines[0]);
        using var dl = JsonDocument.Parse(lines[1]);
        Assert.Equal("bad", dl.RootElement.GetProperty("dead_letter").GetProperty("reason").GetString());
    }

    [Fact]
    public async Task PrepareBatchAsync_SeveralPreparedBeforeTheirWrites_EachWritesItsOwnLinesOnce()
    {
        // The lane prepares the next batch while one writes: the pooled buffers must not be shared between batches.
        using var ms = new MemoryStream();
        await using (var sink = NdjsonSink.ForStream(ms))
        {
            Assert.True(((ILogSink)sink).PreparesBatches);
            var prepared = new List<PreparedBatch>();
            for (var b = 0; b < 5; b++)
            {
                prepared.Add(await sink.PrepareBatchAsync(TestEvents.Batch("p", 3, b * 3), default));
            }

            foreach (var p in prepared)
            {
                await sink.WritePreparedAsync(p, default);
            }

            await Assert.ThrowsAsync<InvalidOperationException>(async () => await sink.WritePreparedAsync(prepared[0], default));
            await Assert.ThrowsAsync<ArgumentException>(async () => await sink.WritePreparedAsync(new PreparedBatch(TestEvents.Batch("q", 1)), default));
        }

        var ids = Encoding.UTF8.GetString(ms.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("id").GetString()).ToList();
        Assert.Equal(TestEvents.Batch("p", 15).Select(e => e.Id), ids);
    }

    [Fact]
    public async Task OpenAsync_PlainPath_WritesOneFileWhateverTheSizeAndAge()
    {
        var clock = new FakeTimeProvider(TestEvents.Base);
        var path = Path.Combine(_folder, "one.ndjson");
        await using (var sink = await SinkRegistry.OpenAsync("ndjson:" + path, new SinkContext(clock)))
        {
            for (var i = 0; i < 40; i++)
            {
                await sink.WriteBatchAsync(TestEvents.Batch("o", 50, i * 50), default);
                clock.Advance(TimeSpan.FromHours(12));
            }
        }

        // 2,000 events over 20 days: the old defaults (100 MiB, 1 day) would have rotated many times by time.
        Assert.Equal([path], Directory.GetFiles(_folder, "one*.ndjson"));
        Assert.Equal(2000, File.ReadAllLines(path).Length);
    }

    [Fact]
    public async Task OpenAsync_RotateQuery_RotatesBySizeOnly()
    {
        var clock = new FakeTimeProvider(TestEvents.Base);
        var path = Path.Combine(_folder, "r.ndjson");
        await using (var sink = await SinkRegistry.OpenAsync("ndjson:" + path + "?rotate=4KiB", new SinkContext(clock)))
        {
            for (var i = 0; i < 20; i++)
            {
                await sink.WriteBatchAsync(TestEvents.Batch("r", 5, i * 5), default);
            }
        }

        var files = Directory.GetFiles(_folder, "r*.ndjson");
        Assert.True(files.Length > 3, $"{files.Length} files");
        Assert.All(files, f => Assert.True(new FileInfo(f).Length <= 4096 || File.ReadAllLines(f).Length == 5));
        Assert.Equal(100, files.Sum(f => File.ReadAllLines(f).Length));
    }

    [Theory]
    [InlineData("ndjson:/tmp/x.ndjson?rotate=lots", "rotate: 'lots' is not a size")]
    [InlineData("ndjson:/tmp/x.ndjson?rotate=10", "at least 1KiB")]
    [InlineData("ndjson:/tmp/x.ndjson?keep=3", "unknown option 'keep'")]
    public void Check_BadRotateQuery_SaysWhy(string uri, string expected) =>
        Assert.Contains(expected, SinkRegistry.Check(uri), StringComparison.Ordinal);

    [Fact]
    public void Check_RotateSizes_AreAccepted()
    {
        Assert.Null(SinkRegistry.Check("ndjson:/tmp/x.ndjson?rotate=100MiB"));
        Assert.Null(SinkRegistry.Check("ndjson:/tmp/x.ndjson"));
        Assert.True(NdjsonSinkFactory.TryParse("/tmp/x.ndjson?rotate=2GiB", out var o, out _));
        Assert.Equal((2L << 30, "/tmp/x.ndjson"), (o.MaxFileBytes, o.Path));
    }

    [Fact]
    public async Task OpenAsync_NdjsonUri_WrapsTheSinkWithRetryAndMetrics()
    {
        var path = Path.Combine(_folder, "u.ndjson");
        await using (var sink = await SinkRegistry.OpenAsync("ndjson:" + path))
        {
            Assert.IsType<NdjsonSink>(Assert.IsType<ResilientSink>(sink).Inner);
            await sink.WriteBatchAsync(TestEvents.Batch("u", 4), default);
        }

        Assert.Equal(4, File.ReadAllLines(path).Length);
        await Assert.ThrowsAsync<ArgumentException>(async () => await SinkRegistry.OpenAsync("kafka:x"));
    }
}
