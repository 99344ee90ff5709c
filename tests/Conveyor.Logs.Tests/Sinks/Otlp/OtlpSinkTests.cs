using System.Net;
using System.Text.Json;
using Conveyor.Logs.Model;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.Otlp;
using Conveyor.Logs.Tests.Support;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Sources.Otlp;
using Conveyor.Logs.Tests.Sources.Otlp;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Logs.V1;

namespace Conveyor.Logs.Tests.Sinks.Otlp;

/// <summary><c>--to otlp://</c>: Conveyor → Conveyor keeps every field; failures are classified as OTLP says.</summary>
public sealed class OtlpSinkTests
{
    [Fact]
    public async Task WriteBatch_ToConveyorsOwnReceiver_EveryFieldSurvivesTheRoundTrip()
    {
        await using var receiver = await OtlpTestHost.StartAsync(SourceType.Otlp);
        await using var sink = OtlpSink.Open(OtlpSinkOptions.FromUri($"otlp://127.0.0.1:{receiver.Source.BoundPort}"));
        var sent = RichEvents();

        await sink.WriteBatchAsync(sent, CancellationToken.None);

        var received = receiver.TakeEvents();
        Assert.Equal(sent.Count, received.Count);
        // Records are grouped by resource and scope on the wire, so compare in time order.
        Assert.Equal(sent.OrderBy(static e => e.ObservedTimestamp).Select(WithoutHopFields), received.OrderBy(static e => e.ObservedTimestamp).Select(WithoutHopFields));
        Assert.IsType<byte[]>(received.Single(static e => e.Attributes.Contains("blob")).Attributes.TryGetValue("blob", out var blob) ? blob : null);
        Assert.Equal((sent.Count, 0L, sent.Count), (receiver.Info.Received, receiver.Info.Refused, receiver.Info.Admitted));
    }

    [Fact]
    public async Task WriteBatch_EventsOfTwoResourcesAndScopes_GroupedIntoOneRequest()
    {
        var events = RichEvents();
        var request = OtlpLogMapping.ToRequest(events);
        Assert.Equal(2, request.ResourceLogs.Count);
        Assert.Equal(2, request.ResourceLogs[0].ScopeLogs.Count);
        Assert.Equal([2, 1], request.ResourceLogs[0].ScopeLogs.Select(static s => s.LogRecords.Count));
        Assert.Equal("checkout", request.ResourceLogs[0].Resource.Attributes.Single(static a => a.Key == "service.name").Value.StringValue);

        // The envelope's attributes went into the envelope, not the record.
        Assert.DoesNotContain(request.ResourceLogs[0].ScopeLogs[0].LogRecords[0].Attributes, static a => a.Key.StartsWith("otel.", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(429, true)]
    [InlineData(502, true)]
    [InlineData(503, true)]
    [InlineData(504, true)]
    [InlineData(400, false)]
    [InlineData(401, false)]
    [InlineData(404, false)]
    [InlineData(413, false)]
    [InlineData(500, false)]
    public async Task WriteBatch_ReceiverStatus_TransientOnlyWhereTheSpecRetries(int status, bool transient)
    {
        var handler = new AnswerHandler(_ =>
        {
            var r = new HttpResponseMessage((HttpStatusCode)status)
            {
                Content = new ByteArrayContent(new Google.Rpc.Status { Code = 8, Message = "receiver says no" }.ToByteArray()),
            };
            r.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(3));
            return r;
        });
        await using var sink = OtlpSink.Open(new OtlpSinkOptions { Endpoint = new Uri("http://127.0.0.1:9/v1/logs") }, handler);

        var error = await Assert.ThrowsAsync<SinkException>(async () => await sink.WriteBatchAsync(RichEvents(), CancellationToken.None));

        Assert.Equal(transient, error.IsTransient);
        Assert.Contains("receiver says no", error.Message, StringComparison.Ordinal);
        Assert.Equal(transient ? TimeSpan.FromSeconds(3) : null, error.RetryAfter);
        Assert.False((await sink.CheckHealthAsync(CancellationToken.None)).IsHealthy);
    }

    [Fact]
    public async Task WriteBatch_NobodyListening_TransientAndUnhealthy()
    {
        await using var sink = OtlpSink.Open(new OtlpSinkOptions { Endpoint = new Uri($"http://127.0.0.1:{ClosedPort()}/v1/logs"), Timeout = TimeSpan.FromSeconds(5) });
        var error = await Assert.ThrowsAsync<SinkException>(async () => await sink.WriteBatchAsync(RichEvents(), CancellationToken.None));
        Assert.True(error.IsTransient);
        Assert.False((await sink.CheckHealthAsync(CancellationToken.None)).IsHealthy);
    }

    [Fact]
    public async Task WriteBatch_PartialSuccess_CountedAndNotRetried()
    {
        var calls = 0;
        var handler = new AnswerHandler(_ =>
        {
            Interlocked.Increment(ref calls);
            var answer = new ExportLogsServiceResponse { PartialSuccess = new ExportLogsPartialSuccess { RejectedLogRecords = 2, ErrorMessage = "too old" } };
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(answer.ToByteArray()) };
        });
        await using var sink = OtlpSink.Open(new OtlpSinkOptions { Endpoint = new Uri("http://127.0.0.1:9/v1/logs") }, handler);
        await sink.WriteBatchAsync(RichEvents(), CancellationToken.None);
        Assert.Equal((1, 2L), (calls, sink.RejectedByReceiver));
        Assert.True((await sink.CheckHealthAsync(CancellationToken.None)).IsHealthy);
    }

    [Fact]
    public async Task SinkLane_TransientWithRetryAfter_WaitsWhatTheReceiverAsked()
    {
        var attempts = 0;
        var handler = new AnswerHandler(_ =>
        {
            if (Interlocked.Increment(ref attempts) == 1)
            {
                var busy = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
                busy.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(1));
                return busy;
            }

            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
        });
        await using var sink = new ResilientSink(OtlpSink.Open(new OtlpSinkOptions { Endpoint = new Uri("http://127.0.0.1:9/v1/logs") }, handler));
        var retry = SinkLaneHarness.QuickRetry();
        retry.MaxDelay = TimeSpan.FromSeconds(30);

        // The lane's back-off would retry after ~10 ms; the receiver asked for 1 s, and that is what counts.
        var events = RichEvents();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var report = await SinkLaneHarness.WriteAsync(sink, events, retry);
        Assert.Equal(2, attempts);
        Assert.Equal(events.Count, report.StoredEvents);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(950), $"retried after {clock.Elapsed}");
    }

    [Theory]
    [InlineData("otlp://127.0.0.1:4318", "http://127.0.0.1:4318/v1/logs")]
    [InlineData("otlp://collector:4318/custom/logs", "http://collector:4318/custom/logs")]
    [InlineData("otlp+https://vendor.example:443", "https://vendor.example/v1/logs")]
    public void FromUri_Forms_Endpoint(string uri, string endpoint) =>
        Assert.Equal(new Uri(endpoint), OtlpSinkOptions.FromUri(uri).Endpoint);

    [Theory]
    [InlineData("otlp:")]
    [InlineData("otlp://")]
    [InlineData("otlp://host")]
    public void FromUri_Malformed_SaysWhatWasExpected(string uri) =>
        Assert.Contains("expected otlp://HOST:PORT", Assert.Throws<FormatException>(() => OtlpSinkOptions.FromUri(uri)).Message, StringComparison.Ordinal);

    /// <summary>Events using every field OTLP has, across two resources and two scopes.</summary>
    internal static List<LogEvent> RichEvents()
    {
        var t0 = new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero).AddTicks(1234567);
        var first = new LogEvent("a:1", "app", "payment failed", t0.AddSeconds(1))
        {
            Timestamp = t0,
            SeverityNumber = 17,
            SeverityText = "Error",
            TraceId = "5b8efff798038103d269b633813fc60c",
            SpanId = "eee19b7ec3c1b174",
            TraceFlags = 1,
            EventName = "order.failed",
        };
        first.Attributes.Set("order.id", 42L);
        first.Attributes.Set("amount", 12.5);
        first.Attributes.Set("retry", true);
        first.Attributes.Set("blob", new byte[] { 1, 2, 3, 255 });
        first.Attributes.Set("tags", new List<object?> { "a", 2L, null, new List<object?> { 1.5 } });
        first.Attributes.Set("ctx", new Dictionary<string, object?> { ["k"] = "v", ["n"] = new Dictionary<string, object?> { ["deep"] = false } });
        first.Attributes.Set(OtlpAttributeNames.ScopeName, "checkout.lib");
        first.Attributes.Set(OtlpAttributeNames.ScopeVersion, "1.2");
        first.Attributes.Set(OtlpAttributeNames.ScopeAttributes, new Dictionary<string, object?> { ["lib.flavour"] = "async" });
        first.Attributes.Set(OtlpAttributeNames.ScopeSchemaUrl, "https://opentelemetry.io/schemas/1.26.0");
        first.Attributes.Set(OtlpAttributeNames.ResourceSchemaUrl, "https://opentelemetry.io/schemas/1.26.0");
        first.Attributes.Set(OtlpAttributeNames.DroppedAttributesCount, 3L);
        first.Resource.Set("service.name", "checkout");
        first.Resource.Set("service.instance.id", 7L);

        // A body that is a map: JSON text in Body, the typed value beside it.
        var second = new LogEvent("a:2", "app", "{\"order\":42,\"ok\":false}", t0.AddSeconds(2)) { SeverityNumber = 9, SeverityText = "Information" };
        second.Attributes.Set(OtlpAttributeNames.Body, new Dictionary<string, object?> { ["order"] = 42L, ["ok"] = false });
        second.Attributes.Set(OtlpAttributeNames.ScopeName, "checkout.lib");
        second.Attributes.Set(OtlpAttributeNames.ScopeVersion, "1.2");
        second.Attributes.Set(OtlpAttributeNames.ScopeAttributes, new Dictionary<string, object?> { ["lib.flavour"] = "async" });
        second.Attributes.Set(OtlpAttributeNames.ScopeSchemaUrl, "https://opentelemetry.io/schemas/1.26.0");
        second.Attributes.Set(OtlpAttributeNames.ResourceSchemaUrl, "https://opentelemetry.io/schemas/1.26.0");
        second.Resource.Set("service.name", "checkout");
        second.Resource.Set("service.instance.id", 7L);

        // Another scope of the same resource, with a bytes body and no time.
        var third = new LogEvent("a:3", "app", "\"AAEC\"", t0.AddSeconds(3));
        third.Attributes.Set(OtlpAttributeNames.Body, new byte[] { 0, 1, 2 });
        third.Attributes.Set(OtlpAttributeNames.ScopeName, "other");
        third.Attributes.Set(OtlpAttributeNames.ResourceSchemaUrl, "https://opentelemetry.io/schemas/1.26.0");
        third.Resource.Set("service.name", "checkout");
        third.Resource.Set("service.instance.id", 7L);

        // Another resource; a plain string body and nothing else.
        var fourth = new LogEvent("a:4", "app", "plain", t0.AddSeconds(4)) { Timestamp = t0.AddSeconds(-1) };
        fourth.Resource.Set("service.name", "billing");
        return [first, second, fourth, third];
    }

    /// <summary>The event JSON without the per-hop <c>id</c> and <c>source</c>, with attributes sorted (grouping may reorder envelope keys).</summary>
    private static string WithoutHopFields(LogEvent e)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            LogEventJson.Write(writer, e);
        }

        var node = System.Text.Json.Nodes.JsonNode.Parse(stream.ToArray())!.AsObject();
        node.Remove("id");
        node.Remove("source");
        var attributes = node["attributes"]!.AsObject();
        var sorted = new System.Text.Json.Nodes.JsonObject();
        foreach (var (k, v) in attributes.OrderBy(static p => p.Key, StringComparer.Ordinal).ToList())
        {
            attributes.Remove(k);
            sorted[k] = v;
        }

        node["attributes"] = sorted;
        return node.ToJsonString();
    }

    private static int ClosedPort()
    {
        using var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private sealed class AnswerHandler(Func<HttpRequestMessage, HttpResponseMessage> answer) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) => Task.FromResult(answer(request));
    }
}
