using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;
using OpenTelemetry.Resources;

namespace Conveyor.Cli.Tests.Service;

/// <summary>
/// <c>conveyor run --from otlp://… --from otlp+grpc://…</c> as a real process, fed by the real OpenTelemetry .NET SDK
/// exporter (Microsoft.Extensions.Logging → OTLP) over HTTP/protobuf and gRPC and by a raw OTLP/JSON request, read
/// back through <c>/api/search</c> (and the NDJSON sink, which writes the same event JSON).
/// </summary>
public sealed class OtlpEndToEndTests
{
    [Fact]
    public async Task Run_OpenTelemetryExporterOverHttpAndGrpcAndRawJson_StoredTypedAndSearchable()
    {
        var dir = ConveyorProcess.TempDirectory();
        int http = ConveyorProcess.FreePort(), otlp = ConveyorProcess.FreePort(), grpc = ConveyorProcess.FreePort();
        var db = Path.Combine(dir, "x.db");
        var ndjson = Path.Combine(dir, "events.ndjson");
        await using var p = await ConveyorProcess.StartPipelineAsync(dir,
        [
            "run", "--from", $"http://127.0.0.1:{http}", "--from", $"otlp://127.0.0.1:{otlp}", "--from", $"otlp+grpc://127.0.0.1:{grpc}",
            "--to", "sqlite:" + db, "--to", "ndjson:" + ndjson,
        ]);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}") };

        var (httpTrace, httpSpan) = ExportWithSdk(new Uri($"http://127.0.0.1:{otlp}/v1/logs"), OtlpExportProtocol.HttpProtobuf, "over-http", 20);
        var (grpcTrace, grpcSpan) = ExportWithSdk(new Uri($"http://127.0.0.1:{grpc}"), OtlpExportProtocol.Grpc, "over-grpc", 20);

        using (var raw = new StringContent(RawJsonRequest, Encoding.UTF8, new MediaTypeHeaderValue("application/json")))
        using (var response = await client.PostAsync(new Uri($"http://127.0.0.1:{otlp}/v1/logs"), raw))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);

            // One of the two records has a span id of the wrong length: the spec's partial success rejects it alone.
            using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var partial = answer.RootElement.GetProperty("partialSuccess");
            Assert.Equal("1", partial.GetProperty("rejectedLogRecords").GetString());
            Assert.Contains("span id", partial.GetProperty("errorMessage").GetString(), StringComparison.Ordinal);
        }

        await TestWait.UntilAsync(async () => await RunEndToEndTests.PipelineValue(client, "write:sqlite", "sent") >= 41, TimeSpan.FromSeconds(30), "41 OTLP records stored");

        // Typed attributes, resource, severity and scope, through the query language and /api/search.
        var sdk = await SearchAsync(client, "OrderId = 7 AND Amount > 12");
        var overHttp = Assert.Single(sdk, static e => e.GetProperty("attributes").GetProperty("otel.scope.name").GetString() == "over-http");
        var overGrpc = Assert.Single(sdk, static e => e.GetProperty("attributes").GetProperty("otel.scope.name").GetString() == "over-grpc");
        foreach (var e in new[] { overHttp, overGrpc })
        {
            Assert.Equal(17, e.GetProperty("severity_number").GetInt32());
            Assert.Equal("Error", e.GetProperty("severity_text").GetString());
            var attributes = e.GetProperty("attributes");
            Assert.Equal(JsonValueKind.Number, attributes.GetProperty("OrderId").ValueKind);
            Assert.Equal(7, attributes.GetProperty("OrderId").GetInt64());
            Assert.Equal(12.5, attributes.GetProperty("Amount").GetDouble());
            Assert.True(attributes.GetProperty("Retry").GetBoolean());
            var resource = e.GetProperty("resource");
            Assert.Equal("checkout", resource.GetProperty("service.name").GetString());
            Assert.Equal("1.2.3", resource.GetProperty("service.version").GetString());
            Assert.Equal(3, resource.GetProperty("deployment.replica").GetInt64());
            Assert.Contains("Payment failed for order 7", e.GetProperty("body").GetString(), StringComparison.Ordinal);
        }

        // Trace and span ids are columns the query language reaches, and /api/search returns them as hex, with the resource.
        foreach (var (trace, span, scope) in new[] { (httpTrace, httpSpan, "over-http"), (grpcTrace, grpcSpan, "over-grpc") })
        {
            var traced = await SearchAsync(client, $"trace_id = \"{trace}\"");
            Assert.Equal(20, traced.Count);
            Assert.All(traced, e =>
            {
                Assert.Equal(trace, e.GetProperty("trace_id").GetString());
                Assert.Equal(span, e.GetProperty("span_id").GetString());
                Assert.Equal(scope, e.GetProperty("attributes").GetProperty("otel.scope.name").GetString());
                Assert.Equal("checkout", e.GetProperty("resource").GetProperty("service.name").GetString());
            });
            Assert.Equal(20, (await SearchAsync(client, $"span_id = \"{span}\"")).Count);
        }

        var json = Assert.Single(await SearchAsync(client, "\"disk almost full\""));
        Assert.Equal("5b8efff798038103d269b633813fc60c", json.GetProperty("trace_id").GetString());
        Assert.Equal("eee19b7ec3c1b174", json.GetProperty("span_id").GetString());
        Assert.Equal(1, json.GetProperty("trace_flags").GetInt32());
        Assert.Equal("disk.pressure", json.GetProperty("event_name").GetString());
        Assert.Equal("WARN", json.GetProperty("severity_text").GetString());
        Assert.Equal(13, json.GetProperty("severity_number").GetInt32());
        Assert.Equal("2025-12-01T09:27:14.567891+00:00", json.GetProperty("timestamp").GetString()); // the stores keep microseconds
        Assert.Equal("2025-12-01T09:27:15+00:00", json.GetProperty("observed_timestamp").GetString());
        var a = json.GetProperty("attributes");
        Assert.Equal(93.5, a.GetProperty("disk.used_percent").GetDouble());
        Assert.Equal(JsonValueKind.Number, a.GetProperty("disk.bytes_free").ValueKind);
        Assert.Equal("aGVsbG8=", a.GetProperty("checksum").GetString());
        Assert.Equal("[\"sda\",1]", a.GetProperty("devices").GetRawText());
        Assert.Equal("{\"mount\":\"/var\",\"ro\":false}", a.GetProperty("fs").GetRawText());
        Assert.Equal("infra", a.GetProperty("otel.scope.name").GetString());
        Assert.Equal("host-7", json.GetProperty("resource").GetProperty("host.name").GetString());

        Assert.Equal(0, await p.TerminateAsync(TimeSpan.FromSeconds(60)));

        // The event JSON carries trace and span ids as top-level lowercase hex; the NDJSON sink writes exactly it.
        var written = (await File.ReadAllLinesAsync(ndjson)).Select(static l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(41, written.Count);
        Assert.Equal(20, written.Count(e => e.GetProperty("trace_id").GetString() == httpTrace && e.GetProperty("span_id").GetString() == httpSpan));
        Assert.Equal(20, written.Count(e => e.GetProperty("trace_id").GetString() == grpcTrace && e.GetProperty("span_id").GetString() == grpcSpan));
        var disk = Assert.Single(written, static e => e.GetProperty("body").GetString() == "disk almost full");
        Assert.Equal("5b8efff798038103d269b633813fc60c", disk.GetProperty("trace_id").GetString());
        Assert.Equal("eee19b7ec3c1b174", disk.GetProperty("span_id").GetString());
        Assert.Equal("2025-12-01T09:27:14.5678912+00:00", disk.GetProperty("timestamp").GetString());
        Assert.Equal(9_007_199_254_740_993, disk.GetProperty("attributes").GetProperty("disk.bytes_free").GetInt64()); // 2^53 + 1: no double on the way
        Assert.Equal(1, disk.GetProperty("trace_flags").GetInt32());
        Assert.Equal("disk.pressure", disk.GetProperty("event_name").GetString());

        // Conservation: 42 records sent, 41 admitted and stored, 1 refused to its sender (the partial success).
        Assert.Equal(42, p.Report("received"));
        Assert.Equal(41, p.Report("admitted"));
        Assert.Equal(1, p.Report("refused to senders"));
        Assert.Equal((41L, 0L), await Senders.CountAsync(db));
    }

    [Fact]
    public async Task Run_OtlpBadRequests_AnsweredWithReasonAndNothingStored()
    {
        var dir = ConveyorProcess.TempDirectory();
        var otlp = ConveyorProcess.FreePort();
        var db = Path.Combine(dir, "x.db");
        var config = Path.Combine(dir, "c.yaml");
        await File.WriteAllTextAsync(config, $"""
            sources:
              - type: otlp
                port: {otlp}
                bearerToken: s3cret
                maxBodyBytes: 4096
            sinks:
              - uri: sqlite:{db}
            """);
        await using var p = await ConveyorProcess.StartPipelineAsync(dir, ["run", "--config", config]);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{otlp}") };

        async Task<(HttpStatusCode Status, string Body)> Post(byte[] body, string type, string? token = "s3cret")
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/logs") { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(type);
            if (token is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }

            using var response = await client.SendAsync(request);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        var valid = Encoding.UTF8.GetBytes(RawJsonRequest);
        var unauthorized = await Post(valid, "application/json", token: "wrong");
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.Status);
        Assert.Contains("bearer token", unauthorized.Body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Post(valid, "application/json", token: null)).Status);

        var malformed = await Post(Encoding.UTF8.GetBytes("{\"resourceLogs\": [ {\"scopeLogs\": 5} ]}"), "application/json");
        Assert.Equal(HttpStatusCode.BadRequest, malformed.Status);
        Assert.Contains("not a valid OTLP JSON", malformed.Body, StringComparison.Ordinal);

        var badProtobuf = await Post([0x0A, 0xFF, 0xFF, 0x01], "application/x-protobuf");
        Assert.Equal(HttpStatusCode.BadRequest, badProtobuf.Status);

        var oversized = await Post(Encoding.UTF8.GetBytes(RawJsonRequest.Replace("disk almost full", new string('x', 5000), StringComparison.Ordinal)), "application/json");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, oversized.Status);
        Assert.Contains("4096", oversized.Body, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await Post(valid, "text/plain")).Status);

        Assert.Equal(0, await p.TerminateAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal((0L, 0L), await Senders.CountAsync(db));
        Assert.Equal(0, p.Report("received"));
    }

    [Fact]
    public async Task Run_ConveyorForwardsOverOtlpToConveyor_EveryEventOnceWithEveryField()
    {
        const int Requests = 5, PerRequest = 100, Records = Requests * PerRequest;
        var dir = ConveyorProcess.TempDirectory();
        int httpA = ConveyorProcess.FreePort(), otlpA = ConveyorProcess.FreePort(), httpB = ConveyorProcess.FreePort(), otlpB = ConveyorProcess.FreePort();
        var db = Path.Combine(dir, "b.db");
        var ndjson = Path.Combine(dir, "b.ndjson");
        var dirA = Directory.CreateDirectory(Path.Combine(dir, "a")).FullName;
        var dirB = Directory.CreateDirectory(Path.Combine(dir, "b")).FullName;

        // B receives OTLP and stores; A receives OTLP and forwards everything to B over OTLP/HTTP.
        await using var b = await ConveyorProcess.StartPipelineAsync(dirB,
            ["run", "--from", $"otlp://127.0.0.1:{otlpB}", "--from", $"http://127.0.0.1:{httpB}", "--to", "sqlite:" + db, "--to", "ndjson:" + ndjson]);
        await using var a = await ConveyorProcess.StartPipelineAsync(dirA,
            ["run", "--from", $"otlp://127.0.0.1:{otlpA}", "--from", $"http://127.0.0.1:{httpA}", "--to", $"otlp://127.0.0.1:{otlpB}"]);

        using var client = new HttpClient();
        for (var r = 0; r < Requests; r++)
        {
            using var content = new StringContent(RoundTripRequest(r * PerRequest, PerRequest), Encoding.UTF8, new MediaTypeHeaderValue("application/json"));
            using var response = await client.PostAsync(new Uri($"http://127.0.0.1:{otlpA}/v1/logs"), content);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using var apiB = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpB}") };
        await TestWait.UntilAsync(async () => await RunEndToEndTests.PipelineValue(apiB, "write:sqlite", "sent") >= Records, TimeSpan.FromSeconds(30), $"{Records} records forwarded by A and stored by B");

        // Read back through B's /api/search: typed attributes, resource, scope, severity, ids, times and event name.
        foreach (var i in new[] { 0, 137, Records - 1 })
        {
            var e = Assert.Single(await SearchAsync(apiB, $"seq = {i}"));
            Assert.Equal($"round trip {i}", e.GetProperty("body").GetString());
            Assert.Equal(17, e.GetProperty("severity_number").GetInt32());
            Assert.Equal("ERROR", e.GetProperty("severity_text").GetString());
            Assert.Equal(TraceId(i), e.GetProperty("trace_id").GetString());
            Assert.Equal(SpanId(i), e.GetProperty("span_id").GetString());
            Assert.Equal(1, e.GetProperty("trace_flags").GetInt32());
            Assert.Equal("order.failed", e.GetProperty("event_name").GetString());
            Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_764_581_234_000 + i), e.GetProperty("timestamp").GetDateTimeOffset());
            Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_764_581_240_000), e.GetProperty("observed_timestamp").GetDateTimeOffset());
            var attributes = e.GetProperty("attributes");
            Assert.Equal(JsonValueKind.Number, attributes.GetProperty("seq").ValueKind);
            Assert.Equal(i, attributes.GetProperty("seq").GetInt64());
            Assert.Equal(i + 0.25, attributes.GetProperty("ratio").GetDouble());
            Assert.Equal(i % 2 == 0, attributes.GetProperty("even").GetBoolean());
            Assert.Equal("[\"a\",2]", attributes.GetProperty("tags").GetRawText());
            Assert.Equal("{\"zone\":\"eu-1\"}", attributes.GetProperty("placement").GetRawText());
            Assert.Equal("billing", attributes.GetProperty("otel.scope.name").GetString());
            var resource = e.GetProperty("resource");
            Assert.Equal("checkout", resource.GetProperty("service.name").GetString());
            Assert.Equal(3, resource.GetProperty("deployment.replica").GetInt64());
        }

        Assert.Equal(Records, (await SearchAsync(apiB, "event_name = \"order.failed\" AND severity_number = 17")).Count);

        // A drains into B before it exits; then B stops. Every record arrived once: none lost, none sent twice.
        Assert.Equal(0, await a.TerminateAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal(0, await b.TerminateAsync(TimeSpan.FromSeconds(60)));
        var seqs = (await File.ReadAllLinesAsync(ndjson)).Select(static l => JsonDocument.Parse(l).RootElement.GetProperty("attributes").GetProperty("seq").GetInt64()).ToList();
        Assert.Equal(Enumerable.Range(0, Records).Select(static i => (long)i), seqs.Order());
        Assert.Equal(Records, a.Report("admitted"));
        Assert.Equal(Records, a.SinkReport("stored"));
        Assert.Equal(0, a.Report("dead letters"));
        Assert.Equal(Records, b.Report("received"));
        Assert.Equal(Records, b.Report("admitted"));
        Assert.Equal(((long)Records, 0L), await Senders.CountAsync(db));
    }

    private static string TraceId(int i) => (i + 1).ToString("x32", System.Globalization.CultureInfo.InvariantCulture);

    private static string SpanId(int i) => (i + 1).ToString("x16", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>One OTLP/JSON request of <paramref name="count"/> records numbered from <paramref name="first"/>, every kind of value in it.</summary>
    private static string RoundTripRequest(int first, int count)
    {
        var records = Enumerable.Range(first, count).Select(static i => RoundTripRecord
            .Replace("TIME", ((1_764_581_234_000L + i) * 1_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("TRACE", TraceId(i), StringComparison.Ordinal)
            .Replace("SPAN", SpanId(i), StringComparison.Ordinal)
            .Replace("RATIO", (i + 0.25).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("EVEN", i % 2 == 0 ? "true" : "false", StringComparison.Ordinal)
            .Replace("SEQ", i.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        return RoundTripEnvelope.Replace("RECORDS", string.Join(",", records), StringComparison.Ordinal);
    }

    private const string RoundTripEnvelope = """
        {"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}},{"key":"deployment.replica","value":{"intValue":"3"}}]},
         "scopeLogs":[{"scope":{"name":"billing","version":"1.0"},"logRecords":[RECORDS]}]}]}
        """;

    private const string RoundTripRecord = """
        {"timeUnixNano":"TIME","observedTimeUnixNano":"1764581240000000000","severityNumber":17,"severityText":"ERROR",
         "traceId":"TRACE","spanId":"SPAN","flags":1,"eventName":"order.failed","body":{"stringValue":"round trip SEQ"},
         "attributes":[{"key":"seq","value":{"intValue":"SEQ"}},{"key":"ratio","value":{"doubleValue":RATIO}},{"key":"even","value":{"boolValue":EVEN}},
          {"key":"tags","value":{"arrayValue":{"values":[{"stringValue":"a"},{"intValue":"2"}]}}},
          {"key":"placement","value":{"kvlistValue":{"values":[{"key":"zone","value":{"stringValue":"eu-1"}}]}}}]}
        """;

    /// <summary>
    /// Logs <paramref name="count"/> records through Microsoft.Extensions.Logging with the OpenTelemetry SDK's OTLP
    /// exporter, inside an activity so they carry its trace and span ids, and flushes them (disposing the factory).
    /// </summary>
    private static (string TraceId, string SpanId) ExportWithSdk(Uri endpoint, OtlpExportProtocol protocol, string category, int count)
    {
        using var factory = LoggerFactory.Create(builder => builder.AddOpenTelemetry(o =>
        {
            o.SetResourceBuilder(ResourceBuilder.CreateEmpty()
                .AddService("checkout", serviceVersion: "1.2.3")
                .AddAttributes([new KeyValuePair<string, object>("deployment.replica", 3)]));
            o.IncludeFormattedMessage = true;
            o.AddOtlpExporter(e =>
            {
                e.Endpoint = endpoint;
                e.Protocol = protocol;
            });
        }));
        var logger = factory.CreateLogger(category);
        using var activity = new Activity("checkout").SetIdFormat(ActivityIdFormat.W3C).Start();
        for (var i = 0; i < count; i++)
        {
            logger.LogError("Payment failed for order {OrderId}: {Amount} due, retry {Retry}", i, 12.5, true);
        }

        return (activity.TraceId.ToHexString(), activity.SpanId.ToHexString());
    }

    private static async Task<List<JsonElement>> SearchAsync(HttpClient client, string query)
    {
        using var response = await client.GetAsync("/api/search?limit=1000&q=" + Uri.EscapeDataString(query));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return [.. JsonDocument.Parse(body).RootElement.GetProperty("events").EnumerateArray()];
    }

    /// <summary>An OTLP/JSON request as curl would send it: hex ids, integer enums, 64-bit integers as strings.</summary>
    private const string RawJsonRequest = """
        {"resourceLogs":[{"resource":{"attributes":[{"key":"host.name","value":{"stringValue":"host-7"}}]},
         "scopeLogs":[{"scope":{"name":"infra","version":"2.0"},"logRecords":[
          {"timeUnixNano":"1764581234567891200","observedTimeUnixNano":"1764581235000000000","severityNumber":13,"severityText":"WARN",
           "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","flags":1,"eventName":"disk.pressure",
           "body":{"stringValue":"disk almost full"},
           "attributes":[{"key":"disk.used_percent","value":{"doubleValue":93.5}},{"key":"disk.bytes_free","value":{"intValue":"9007199254740993"}},
            {"key":"checksum","value":{"bytesValue":"aGVsbG8="}},{"key":"devices","value":{"arrayValue":{"values":[{"stringValue":"sda"},{"intValue":"1"}]}}},
            {"key":"fs","value":{"kvlistValue":{"values":[{"key":"mount","value":{"stringValue":"/var"}},{"key":"ro","value":{"boolValue":false}}]}}}]},
          {"body":{"stringValue":"a record with a broken span id"},"spanId":"eee19b7e"}]}]}]}
        """;
}
