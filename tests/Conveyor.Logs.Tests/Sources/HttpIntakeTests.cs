using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Pipeline;
using Conveyor.Logs.Sources.Otlp;
using Conveyor.Logs.Tests.Sinks.Otlp;
using Conveyor.Logs.Tests.Sources.Otlp;
using Conveyor.Logs.Tests.Support;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conveyor.Logs.Tests.Sources;

/// <summary>
/// The admission the request-answering sources share (OTLP/HTTP, OTLP/gRPC, the Elasticsearch bulk API, like
/// <c>/ingest</c>): one acknowledgement per request, a reference per record, success answered only once the records
/// are admitted (in memory, or on disk), and every refusal completing the acknowledgement exactly once.
/// </summary>
public sealed class HttpIntakeTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "conveyor-intake-tests", Guid.NewGuid().ToString("N"));

    public static TheoryData<SourceType> RequestSources => new() { SourceType.Otlp, SourceType.Elasticsearch };

    [Theory]
    [MemberData(nameof(RequestSources))]
    public async Task Admit_TwoRequests_OneAcknowledgementEachFiringOnceEveryRecordIsDone(SourceType type)
    {
        await using var host = await OtlpTestHost.StartAsync(type);
        using var client = new HttpClient { BaseAddress = host.BaseAddress };

        Assert.Equal(HttpStatusCode.OK, await PostAsync(client, type));
        Assert.Equal(HttpStatusCode.OK, await PostAsync(client, type));

        var lines = Drain(host);
        Assert.Equal(8, lines.Count);
        var first = lines[0].Ack!;
        var second = lines[4].Ack!;
        Assert.NotSame(first, second);
        Assert.All(lines.Take(4), l => Assert.Same(first, l.Ack));
        Assert.All(lines.Skip(4), l => Assert.Same(second, l.Ack));
        Assert.Equal(new[] { first, second }, host.Acknowledgements);
        Assert.Equal((4, 4), (first.Pending, second.Pending));

        // The sinks finish the records one by one: the request's acknowledgement fires with the last, with the worst outcome.
        for (var i = 0; i < 3; i++)
        {
            lines[i].Ack!.Complete(DeliveryOutcome.Delivered);
        }

        Assert.False(first.IsCompleted);
        lines[3].Ack!.Complete(DeliveryOutcome.DeadLettered);
        Assert.Equal(DeliveryOutcome.DeadLettered, await first.Completion);
        Assert.False(second.IsCompleted);
    }

    [Theory]
    [MemberData(nameof(RequestSources))]
    public async Task Admit_FullBufferThatRejects_RefusedOnceCountedOnceAndAcknowledgedDropped(SourceType type)
    {
        // A block timeout must not offer the request a second time to a buffer that refuses instead of waiting.
        await using var host = await OtlpTestHost.StartAsync(type, capacity: 6, static o => o.BlockTimeout = TimeSpan.FromSeconds(5), FullMode.Reject);
        using var client = new HttpClient { BaseAddress = host.BaseAddress };
        Assert.Equal(HttpStatusCode.OK, await PostAsync(client, type));

        Assert.Equal(HttpStatusCode.TooManyRequests, await PostAsync(client, type));

        Assert.Equal(4L, host.Main.GetStatistics().Rejected);
        Assert.Equal((8L, 4L, 4L), (host.Info.Received, host.Info.Admitted, host.Info.Refused));
        var refused = host.Acknowledgements.Last();
        Assert.True(refused.IsCompleted);
        Assert.Equal(DeliveryOutcome.Dropped, refused.Outcome);
        Assert.Equal(4, host.Acknowledgements.First().Pending);
    }

    [Theory]
    [MemberData(nameof(RequestSources))]
    public async Task Admit_NoRoomWithinTheBlockTimeout_429AndAcknowledgedDroppedOnce(SourceType type)
    {
        await using var host = await OtlpTestHost.StartAsync(type, capacity: 6, static o => o.BlockTimeout = TimeSpan.FromMilliseconds(100));
        using var client = new HttpClient { BaseAddress = host.BaseAddress };
        Assert.Equal(HttpStatusCode.OK, await PostAsync(client, type));

        Assert.Equal(HttpStatusCode.TooManyRequests, await PostAsync(client, type));

        var refused = host.Acknowledgements.Last();
        Assert.Equal(DeliveryOutcome.Dropped, await refused.Completion);
        Assert.Equal(0, refused.Pending);
        Assert.Equal(4, host.Main.GetStatistics().Depth);
    }

    [Theory]
    [MemberData(nameof(RequestSources))]
    public async Task Admit_DurableIntake_SuccessOnlyOnceOnDiskAndReplayedUnderTheDisksAcknowledgement(SourceType type)
    {
        // No block timeout, as the host's default: a durable write still waits for the disk (as /ingest does) rather
        // than being refused because it could not be done without waiting.
        DiskIntake? disk = null;
        var source = new SourceInfo("replay", "otlp", LogParsers.Create("auto"));
        await using var host = await OtlpTestHost.StartAsync(type, intake: main => disk = DiskIntake.Open(
            new BufferSettings { Type = BufferType.Disk, Path = _root }, main.Writer, _ => source, NullLogger.Instance, TimeProvider.System));
        await using var owned = disk!;
        using var client = new HttpClient { BaseAddress = host.BaseAddress };

        Assert.Equal(HttpStatusCode.OK, await PostAsync(client, type));

        // Answered: the four records are on disk, so the request's own acknowledgement has fired (on disk is as far
        // as a request needs to go); each record leaves the disk only when its replayed line is finished.
        var request = Assert.Single(host.Acknowledgements);
        Assert.Equal(DeliveryOutcome.Delivered, await request.Completion);
        Assert.Equal(4, disk!.Disk.GetDiskStatistics().Unacknowledged);
        Assert.Equal((4L, 4L, 0L), (host.Info.Received, host.Info.Admitted, host.Info.Refused));

        disk.StartReplay();
        var replayed = await host.Main.Reader.ReadBatchAsync(4, long.MaxValue, TimeSpan.FromSeconds(10));
        Assert.Equal(4, replayed.Count);
        Assert.All(replayed, l => Assert.NotSame(request, l.Ack));
        foreach (var line in replayed)
        {
            line.Ack!.Complete(DeliveryOutcome.Delivered);
        }

        await TestEvents.WaitUntilAsync(() => Task.FromResult(disk.Disk.GetDiskStatistics().Unacknowledged == 0), TimeSpan.FromSeconds(10), "the replayed records acknowledged on disk");
    }

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    /// <summary>One request of four records: an OTLP protobuf export, or a bulk body of four index actions.</summary>
    private static async Task<HttpStatusCode> PostAsync(HttpClient client, SourceType type)
    {
        HttpResponseMessage response;
        if (type == SourceType.Elasticsearch)
        {
            var body = string.Concat(Enumerable.Range(0, 4).Select(static i => $"{{\"index\":{{\"_index\":\"a\"}}}}\n{{\"message\":\"m{i}\"}}\n"));
            response = await client.PostAsync("/_bulk", new StringContent(body, Encoding.UTF8, "application/x-ndjson"));
        }
        else
        {
            var content = new ByteArrayContent(OtlpLogMapping.ToRequest(OtlpSinkTests.RichEvents()).ToByteArray());
            content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
            response = await client.PostAsync(OtlpHttpSource.LogsPath, content);
        }

        using (response)
        {
            return response.StatusCode;
        }
    }

    private static List<RawLine> Drain(OtlpTestHost host)
    {
        var lines = new List<RawLine>();
        while (host.Main.Reader.TryRead(out var line))
        {
            lines.Add(line);
        }

        return lines;
    }
}
