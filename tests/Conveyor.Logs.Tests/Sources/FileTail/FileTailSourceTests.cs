using System.Diagnostics;
using System.Text;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Sources.FileTail;
using Microsoft.Extensions.Logging.Testing;

namespace Conveyor.Logs.Tests.Sources.FileTail;

/// <summary>File tail across rotation (rename and copytruncate), truncation and restart: every line exactly once.</summary>
public sealed class FileTailSourceTests
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "conveyor-tail-tests", Guid.NewGuid().ToString("N"));
    private readonly BoundedBuffer<RawLine> _buffer = new(new BufferOptions<RawLine> { Capacity = 100_000 });
    private readonly Dictionary<string, string> _seen = new(StringComparer.Ordinal);
    private readonly FakeLogger _log = new();

    public FileTailSourceTests() => Directory.CreateDirectory(Path.Combine(_dir, "logs"));

    private string Log => Path.Combine(_dir, "logs", "app.log");

    [Fact]
    public async Task Tail_RotationTruncationAndRestart_EveryLineExactlyOnce()
    {
        var n = 0;
        string[] Lines(int count) => [.. Enumerable.Range(0, count).Select(_ => "line " + Interlocked.Increment(ref n))];

        await File.WriteAllLinesAsync(Log, Lines(100));
        var source = await StartAsync();
        await DrainUntilAsync(100);

        // Appends, then a partial line that only counts once its LF arrives.
        await File.AppendAllLinesAsync(Log, Lines(50));
        await File.AppendAllTextAsync(Log, "line " + Interlocked.Increment(ref n));
        await DrainUntilAsync(150);
        await File.AppendAllTextAsync(Log, "\n");
        await DrainUntilAsync(151);

        // Rotation by rename: the old file gets its last lines written after the rename, then a new file appears.
        File.Move(Log, Log + ".1");
        await File.AppendAllLinesAsync(Log + ".1", Lines(10));
        await File.WriteAllLinesAsync(Log, Lines(20));
        await DrainUntilAsync(181);

        // copytruncate: the content is copied away and the file truncated in place; then writing goes on.
        File.Copy(Log, Log + ".2");
        await using (var f = new FileStream(Log, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
        {
            f.SetLength(0);
        }

        await DrainWhileQuietAsync();
        await File.AppendAllLinesAsync(Log, Lines(5));
        await DrainUntilAsync(186);

        // Restart: stop (checkpoint), write more while down, start again from the checkpoint.
        await source.StopAsync(CancellationToken.None);
        await source.DisposeAsync();
        await File.AppendAllLinesAsync(Log, Lines(30));
        var restarted = await StartAsync();
        await DrainUntilAsync(216);
        await restarted.StopAsync(CancellationToken.None);
        await restarted.DisposeAsync();

        Assert.Equal(n, _seen.Count);
        Assert.Equal(Enumerable.Range(1, n).Select(i => "line " + i).Order(StringComparer.Ordinal), _seen.Values.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Tail_RenamedOutOfTheGlob_ReadsWhatItsWriterWritesOnUntilTheRotateWait()
    {
        await File.WriteAllLinesAsync(Log, Enumerable.Range(0, 5).Select(i => "before " + i));
        var source = await StartAsync(rotateWait: TimeSpan.FromSeconds(1));
        await DrainUntilAsync(5);

        // logrotate's create: the file is renamed out of the glob, and its writer writes on to it until it reopens
        // the path; the tail has already noticed the file left when those lines come.
        File.Move(Log, Log + ".1");
        await WaitForLogAsync("left the glob");
        await File.AppendAllLinesAsync(Log + ".1", Enumerable.Range(0, 10).Select(i => "after " + i));
        await File.AppendAllTextAsync(Log + ".1", "last, no LF");
        await DrainUntilAsync(15);

        // Once it has stopped growing for the rotate wait it is finished, its partial last line included.
        await WaitForLogAsync("has not grown for the rotate wait");
        await DrainUntilAsync(16);
        await source.StopAsync(CancellationToken.None);
        await source.DisposeAsync();

        string[] expected = [.. Enumerable.Range(0, 5).Select(i => "before " + i), .. Enumerable.Range(0, 10).Select(i => "after " + i), "last, no LF"];
        Assert.Equal(expected.Order(StringComparer.Ordinal), _seen.Values.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Tail_TruncatedWhileRunning_ReadsNewContentWithFreshIds()
    {
        await File.WriteAllLinesAsync(Log, ["first a", "first b", "first c"]);
        var source = await StartAsync();
        await DrainUntilAsync(3);
        await using (var f = new FileStream(Log, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
        {
            f.SetLength(0);
        }

        await DrainWhileQuietAsync();
        await File.WriteAllLinesAsync(Log, ["second a"]);
        await DrainUntilAsync(4);
        await source.StopAsync(CancellationToken.None);
        await source.DisposeAsync();

        // The new line starts at offset 0 like "first a" did; its id must differ or an idempotent store would drop it.
        Assert.Contains("second a", _seen.Values);
        Assert.Equal(4, _seen.Keys.Distinct().Count());
    }

    [Fact]
    public async Task Tail_RenamedToANameTheGlobMatches_ReadsOnWithoutReReading()
    {
        await File.WriteAllLinesAsync(Log, Enumerable.Range(0, 100).Select(i => "old " + i));
        var source = await StartAsync();
        await DrainUntilAsync(100);

        // nginx's rotation when the rotated name matches the glob too: rename, write on to the renamed file, reopen.
        var renamed = Path.Combine(_dir, "logs", "app-2.log");
        File.Move(Log, renamed);
        await File.AppendAllLinesAsync(renamed, Enumerable.Range(100, 10).Select(i => "old " + i));
        await File.WriteAllLinesAsync(Log, Enumerable.Range(0, 20).Select(i => "new " + i));
        await DrainUntilAsync(130);
        await DrainWhileQuietAsync();
        await source.StopAsync(CancellationToken.None);
        await source.DisposeAsync();

        // A restart resumes both files by identity: nothing is read again.
        await File.AppendAllLinesAsync(renamed, ["old 110"]);
        var restarted = await StartAsync();
        await DrainUntilAsync(131);
        await DrainWhileQuietAsync();
        await restarted.StopAsync(CancellationToken.None);
        await restarted.DisposeAsync();

        Assert.Equal(131, _seen.Count);
        Assert.Contains(_log.Collector.GetSnapshot(), r => r.Message.Contains("was renamed to " + renamed, StringComparison.Ordinal));
        Assert.Contains(_log.Collector.GetSnapshot(), r => r.Message.Contains("resuming " + renamed + " at byte ", StringComparison.Ordinal));

        // The renamed file's lines keep the path they were first read at, so their ids stay unique and stable.
        Assert.All(_seen.Where(kv => kv.Value.StartsWith("old", StringComparison.Ordinal)), kv => Assert.StartsWith(Log + ":0:", kv.Key, StringComparison.Ordinal));
        Assert.All(_seen.Where(kv => kv.Value.StartsWith("new", StringComparison.Ordinal)), kv => Assert.StartsWith(Log + ":1:", kv.Key, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Tail_GlobOverLinkIntoProcAndFifo_SkipsEachOnceAndReadsNothingTwice()
    {
        var logs = Path.Combine(_dir, "logs");
        File.CreateSymbolicLink(Path.Combine(logs, "mtab.log"), "/proc/self/mounts");
        Assert.Equal(0, Mono.Unix.Native.Syscall.mkfifo(Path.Combine(logs, "pipe.log"), Mono.Unix.Native.FilePermissions.DEFFILEMODE));
        File.CreateSymbolicLink(Path.Combine(logs, "twin.log"), Log);
        await File.WriteAllLinesAsync(Log, ["a", "b", "c"]);
        var source = await StartAsync();
        await DrainUntilAsync(3);

        // Many polls (20 ms apart): none may re-read anything or log a skip twice.
        for (var i = 0; i < 3; i++)
        {
            await DrainWhileQuietAsync();
        }

        await source.StopAsync(CancellationToken.None);
        await source.DisposeAsync();
        Assert.Equal(3, _seen.Count);
        var skips = _log.Collector.GetSnapshot().Where(r => r.Message.Contains("skipping", StringComparison.Ordinal)).Select(r => r.Message).ToList();
        Assert.Equal(3, skips.Count);
        Assert.Contains(skips, m => m.Contains("mtab.log: a link out of", StringComparison.Ordinal));
        Assert.Contains(skips, m => m.Contains("pipe.log: not a regular file", StringComparison.Ordinal));
        Assert.Contains(skips, m => m.Contains("twin.log: the same file as another path", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Tail_ProcFilesWhoseSizeLies_AreSkippedNotReReadEveryPoll()
    {
        var source = await StartAsync(glob: "/proc/self/mount*");
        await TestWaitForSkipsAsync(3);
        for (var i = 0; i < 3; i++)
        {
            await DrainWhileQuietAsync();
        }

        await source.StopAsync(CancellationToken.None);
        await source.DisposeAsync();
        Assert.Empty(_seen);
        var skips = _log.Collector.GetSnapshot().Where(r => r.Message.Contains("skipping", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, skips.Count);
        Assert.All(skips, r => Assert.Contains("its size (0 bytes) is not what it holds", r.Message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Tail_CheckpointIgnore_ReadsEverythingAgainWithTheSameIds()
    {
        await File.WriteAllLinesAsync(Log, ["a", "b"]);
        var source = await StartAsync();
        await DrainUntilAsync(2);
        await source.StopAsync(CancellationToken.None);
        await source.DisposeAsync();
        var first = _seen.Keys.Order(StringComparer.Ordinal).ToList();

        _seen.Clear();
        var again = await StartAsync(FileCheckpoint.Ignore);
        await DrainUntilAsync(2);
        await again.StopAsync(CancellationToken.None);
        await again.DisposeAsync();
        Assert.Equal(first, _seen.Keys.Order(StringComparer.Ordinal).ToList());
        Assert.Contains(_log.Collector.GetSnapshot(), r => r.Message.Contains("ignoring the checkpoint", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Tail_CheckpointFromBeforeIdentities_IsCarriedOver()
    {
        await File.WriteAllLinesAsync(Log, ["a", "b"]);
        Directory.CreateDirectory(Path.Combine(_dir, "checkpoints"));
        var fingerprint = Convert.ToBase64String(Encoding.UTF8.GetBytes("a\nb\n"));
        await File.WriteAllTextAsync(Path.Combine(_dir, "checkpoints", "file.checkpoint.json"), $$$"""{"{{{Log}}}":{"Offset":2,"Fingerprint":"{{{fingerprint}}}","Generation":3}}""");
        var source = await StartAsync();
        await DrainUntilAsync(1);
        await DrainWhileQuietAsync();
        await source.StopAsync(CancellationToken.None);
        await source.DisposeAsync();
        Assert.Equal(new Dictionary<string, string> { [Log + ":3:2"] = "b" }, _seen);
    }

    [Fact]
    public async Task Tail_CrashBeforeSinksCommit_RestartReplaysTheLines()
    {
        await File.WriteAllLinesAsync(Log, [.. Enumerable.Range(1, 20).Select(static i => "line " + i)]);
        var source = await StartAsync();
        var first = await ReadAsync(20);

        // The lines are in memory but no sink has committed them: stopping now leaves the checkpoint where it was,
        // as a crash would (the checkpoint on disk is all a crash leaves behind).
        await source.StopAsync(CancellationToken.None);
        await source.DisposeAsync();
        Assert.All(first, static l => Assert.False(l.Ack!.IsCompleted));

        var replay = await StartAsync();
        var second = await ReadAsync(20);
        Assert.Equal(first.Select(static l => l.Id), second.Select(static l => l.Id));

        // Now the sinks commit the replayed lines; the checkpoint moves past them at the next poll, so a restart
        // reads only what was appended since.
        foreach (var line in second)
        {
            line.Ack!.Complete(DeliveryOutcome.Delivered);
        }

        await WaitForCheckpointAsync(File.ReadAllBytes(Log).Length);
        await replay.StopAsync(CancellationToken.None);
        await replay.DisposeAsync();
        await File.AppendAllLinesAsync(Log, ["line 21"]);
        var third = await StartAsync();
        var after = await ReadAsync(1);
        Assert.Equal("line 21", Encoding.UTF8.GetString(after[0].Data));
        await third.StopAsync(CancellationToken.None);
        await third.DisposeAsync();
        Assert.Equal(0, _buffer.Count);
    }

    [Fact]
    public async Task Tail_ChunksAcknowledgedOutOfOrder_CheckpointWaitsForTheEarlierChunk()
    {
        await File.WriteAllLinesAsync(Log, ["a1", "a2"]);
        var source = await StartAsync();
        var a = await ReadAsync(2);
        await File.AppendAllLinesAsync(Log, ["b1", "b2"]);
        var b = await ReadAsync(2);
        Assert.NotSame(a[0].Ack, b[0].Ack);

        // The later chunk fires first: the checkpoint must not move past the earlier one, still unfinished.
        foreach (var line in b)
        {
            line.Ack!.Complete(DeliveryOutcome.Delivered);
        }

        await File.AppendAllLinesAsync(Log, ["c1"]);
        var c = await ReadAsync(1);
        await source.StopAsync(CancellationToken.None);
        await source.DisposeAsync();
        Assert.Equal(0, CheckpointOffset());

        var restarted = await StartAsync();
        var replayed = await ReadAsync(5);
        Assert.Equal(a.Concat(b).Concat(c).Select(static l => l.Id), replayed.Select(static l => l.Id));
        foreach (var line in replayed)
        {
            line.Ack!.Complete(DeliveryOutcome.Delivered);
        }

        await WaitForCheckpointAsync(File.ReadAllBytes(Log).Length);
        await restarted.StopAsync(CancellationToken.None);
        await restarted.DisposeAsync();
    }

    private async Task<List<RawLine>> ReadAsync(int count)
    {
        var lines = new List<RawLine>();
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (lines.Count < count)
        {
            lines.Add(await _buffer.Reader.ReadAsync(wait.Token));
        }

        return lines;
    }

    private long CheckpointOffset()
    {
        var path = Path.Combine(_dir, "checkpoints", "file.checkpoint.json");
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.GetProperty("Files").EnumerateObject().Single(f => f.Value.GetProperty("Path").GetString() == Log).Value.GetProperty("Offset").GetInt64();
    }

    private async Task WaitForCheckpointAsync(long offset)
    {
        var watch = Stopwatch.StartNew();
        while (!File.Exists(Path.Combine(_dir, "checkpoints", "file.checkpoint.json")) || CheckpointOffset() != offset)
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), "the checkpoint did not reach offset " + offset);
            await Task.Delay(20);
        }
    }

    private async Task WaitForLogAsync(string fragment)
    {
        var watch = Stopwatch.StartNew();
        while (!_log.Collector.GetSnapshot().Any(r => r.Message.Contains(fragment, StringComparison.Ordinal)))
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), "nothing logged \"" + fragment + "\"");
            await Task.Delay(20);
        }
    }

    private async Task TestWaitForSkipsAsync(int count)
    {
        var watch = Stopwatch.StartNew();
        while (_log.Collector.GetSnapshot().Count(r => r.Message.Contains("skipping", StringComparison.Ordinal)) < count)
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), "the skips were not logged");
            await Task.Delay(20);
        }
    }

    private async Task<FileTailSource> StartAsync(FileCheckpoint checkpoint = FileCheckpoint.Resume, string? glob = null, TimeSpan? rotateWait = null)
    {
        var options = new SourceOptions
        {
            Type = SourceType.File,
            Path = glob ?? Path.Combine(_dir, "logs", "*.log"),
            CheckpointDirectory = Path.Combine(_dir, "checkpoints"),
            PollInterval = TimeSpan.FromMilliseconds(20),
            Checkpoint = checkpoint,
            RotateWait = rotateWait ?? new SourceOptions().RotateWait,
        };
        var source = new FileTailSource(options, new SourceInfo("file", "file", LogParsers.Create("auto")), _buffer.Writer, _log, TimeProvider.System);
        await source.StartAsync(CancellationToken.None);
        return source;
    }

    private async Task DrainUntilAsync(int count)
    {
        var watch = Stopwatch.StartNew();
        while (_seen.Count < count)
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"only {_seen.Count} of {count} lines arrived");
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            try
            {
                var line = await _buffer.Reader.ReadAsync(wait.Token);
                Take(line);
            }
            catch (OperationCanceledException)
            {
            }
        }

        Assert.Equal(count, _seen.Count);
    }

    /// <summary>Takes what the tail reads within a few polls, so a change it must notice has been noticed.</summary>
    private async Task DrainWhileQuietAsync()
    {
        using var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        try
        {
            while (true)
            {
                Take(await _buffer.Reader.ReadAsync(wait.Token));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Takes a line as a sink would: records it and completes its reference (committed).</summary>
    private void Take(RawLine line)
    {
        line.Ack?.Complete(DeliveryOutcome.Delivered);
        var text = Encoding.UTF8.GetString(line.Data);
        Assert.True(_seen.TryAdd(line.Id, text), $"id {line.Id} seen twice ('{text}' and '{_seen.GetValueOrDefault(line.Id)}')");
        Assert.DoesNotContain(text, _seen.Where(kv => kv.Key != line.Id).Select(static kv => kv.Value));
    }
}
