using System.Net;
using System.Text;
using System.Text.Json;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Tests.Sources.Otlp;

namespace Conveyor.Logs.Tests.Sources.Elasticsearch;

/// <summary>The Elasticsearch bulk receiver in process: the answers bulk clients parse, per-item errors, probes, back-pressure.</summary>
public sealed class ElasticsearchSourceTests
{
    [Fact]
    public async Task Bulk_IndexAndCreate_StoredAsJsonLinesWithIndexAndIdKept()
    {
        await using var host = await OtlpTestHost.StartAsync(SourceType.Elasticsearch);
        using var client = new HttpClient { BaseAddress = host.BaseAddress };
        var body = """
            {"index":{"_index":"web-2026.12.01"}}
            {"@timestamp":"2026-12-01T10:00:00.123Z","message":"GET / 200","level":"info","http":{"status":200},"host":"web1"}
            {"create":{"_id":"abc"}}
            {"message":"second","level":"error","took_ms":12.5}
            {"index":{"_index":"empty"}}
            {}

            """;

        using var response = await client.PostAsync("/fallback/_bulk", new StringContent(body, Encoding.UTF8, "application/x-ndjson"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Elasticsearch", response.Headers.GetValues("X-Elastic-Product").Single());
        using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.False(answer.RootElement.GetProperty("errors").GetBoolean());
        Assert.True(answer.RootElement.GetProperty("took").GetInt64() >= 0);
        var items = answer.RootElement.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(3, items.Count);
        var first = items[0].GetProperty("index");
        Assert.Equal(("web-2026.12.01", 201, "created"), (first.GetProperty("_index").GetString(), first.GetProperty("status").GetInt32(), first.GetProperty("result").GetString()));
        Assert.StartsWith(host.Info.Name + ":", first.GetProperty("_id").GetString(), StringComparison.Ordinal);
        var second = items[1].GetProperty("create");
        Assert.Equal(("fallback", "abc", 201), (second.GetProperty("_index").GetString(), second.GetProperty("_id").GetString(), second.GetProperty("status").GetInt32()));

        var events = host.TakeEvents();
        Assert.Equal(3, events.Count);
        var web = events[0];
        Assert.Equal("GET / 200", web.Body);
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 10, 0, 0, 123, TimeSpan.Zero), web.Timestamp);
        Assert.Equal(9, web.SeverityNumber);
        Assert.Equal("web-2026.12.01", web.Attributes.TryGetString("_index", out var index) ? index : null);
        Assert.False(web.Attributes.Contains("_id"));
        Assert.Equal(200, web.Attributes.TryGetInt64("http.status", out var status) ? status : 0);
        Assert.Equal("web1", web.Attributes.TryGetString("host", out var h) ? h : null);
        Assert.Equal("abc", events[1].Attributes.TryGetString("_id", out var id) ? id : null);
        Assert.Equal(17, events[1].SeverityNumber);
        Assert.Equal("empty", events[2].Attributes.TryGetString("_index", out var e) ? e : null);
        Assert.Equal(first.GetProperty("_id").GetString(), events[0].Id);
    }

    [Fact]
    public async Task Bulk_BadDocumentsAndUnsupportedActions_PerItem400AndTheRestStored()
    {
        await using var host = await OtlpTestHost.StartAsync(SourceType.Elasticsearch);
        using var client = new HttpClient { BaseAddress = host.BaseAddress };
        var body = """
            {"index":{"_index":"a"}}
            {"message":"good one"}
            {"index":{"_index":"a","_id":"2"}}
            {"message": broken
            {"delete":{"_index":"a","_id":"1"}}
            {"update":{"_index":"a","_id":"1"}}
            {"doc":{"x":1}}
            {"index":{}}
            {"message":"no index anywhere"}
            {"index":{"_index":"a"}}
            [1,2]
            {"create":{"_index":"a"}}
            {"message":"good two"}

            """;

        using var response = await client.PostAsync("/_bulk", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.True(answer.RootElement.GetProperty("errors").GetBoolean());
        var items = answer.RootElement.GetProperty("items").EnumerateArray().Select(static i => i.EnumerateObject().Single()).ToList();
        Assert.Equal(["index", "index", "delete", "update", "index", "index", "create"], items.Select(static i => i.Name));
        Assert.Equal([201, 400, 400, 400, 400, 400, 201], items.Select(static i => i.Value.GetProperty("status").GetInt32()));
        Assert.Equal("document_parsing_exception", items[1].Value.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal("2", items[1].Value.GetProperty("_id").GetString());
        Assert.Contains("not supported", items[2].Value.GetProperty("error").GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains("index is missing", items[4].Value.GetProperty("error").GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains("JSON object", items[5].Value.GetProperty("error").GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(["good one", "good two"], host.TakeEvents().Select(static e => e.Body));
        Assert.Equal((7L, 2L, 5L, 0L), (host.Info.Received, host.Info.Admitted, host.Info.Refused, host.Info.Pending));
    }

    [Theory]
    [InlineData("{\"index\":{\"_index\":\"a\"}}\n", "has no document line")]
    [InlineData("{\"upsert\":{}}\n{}\n", "expected one of [create, delete, index, update]")]
    [InlineData("not json\n{}\n", "not valid JSON")]
    [InlineData("{\"index\":{},\"create\":{}}\n{}\n", "exactly one action")]
    public async Task Bulk_MalformedActionLine_400AndNothingStored(string body, string reason)
    {
        await using var host = await OtlpTestHost.StartAsync(SourceType.Elasticsearch);
        using var client = new HttpClient { BaseAddress = host.BaseAddress };
        var ok = "{\"index\":{\"_index\":\"a\"}}\n{\"message\":\"would be fine\"}\n";

        using var response = await client.PostAsync("/_bulk", new StringContent(ok + body, Encoding.UTF8, "application/x-ndjson"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains(reason, answer.RootElement.GetProperty("error").GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(400, answer.RootElement.GetProperty("status").GetInt32());
        Assert.Empty(host.TakeEvents());
        Assert.Equal(0, host.Info.Received);
    }

    [Fact]
    public async Task Bulk_FullBuffer_429WithRetryAfterAndNothingHalfStored()
    {
        await using var host = await OtlpTestHost.StartAsync(SourceType.Elasticsearch, capacity: 3);
        using var client = new HttpClient { BaseAddress = host.BaseAddress };
        var two = string.Concat(Enumerable.Repeat("{\"index\":{\"_index\":\"a\"}}\n{\"message\":\"m\"}\n", 2));
        using (var first = await client.PostAsync("/_bulk", new StringContent(two, Encoding.UTF8, "application/x-ndjson")))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        using var second = await client.PostAsync("/_bulk", new StringContent(two, Encoding.UTF8, "application/x-ndjson"));

        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(7), second.Headers.RetryAfter?.Delta);
        Assert.Contains("es_rejected_execution_exception", await second.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(2, host.TakeEvents().Count);
        Assert.Equal((4L, 2L, 2L), (host.Info.Received, host.Info.Admitted, host.Info.Refused));
    }

    [Fact]
    public async Task Probes_RootLicenseHealthNodesAndTemplates_AnsweredAsElasticsearch8()
    {
        await using var host = await OtlpTestHost.StartAsync(SourceType.Elasticsearch);
        using var client = new HttpClient { BaseAddress = host.BaseAddress };

        using var root = JsonDocument.Parse(await client.GetStringAsync("/"));
        Assert.StartsWith("8.", root.RootElement.GetProperty("version").GetProperty("number").GetString(), StringComparison.Ordinal);
        Assert.Equal("You Know, for Search", root.RootElement.GetProperty("tagline").GetString());
        using (var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/")))
        {
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        }

        Assert.Contains("green", await client.GetStringAsync("/_cat/health"), StringComparison.Ordinal);
        Assert.Equal("active", JsonDocument.Parse(await client.GetStringAsync("/_license")).RootElement.GetProperty("license").GetProperty("status").GetString());
        var nodes = JsonDocument.Parse(await client.GetStringAsync("/_nodes/http")).RootElement.GetProperty("nodes").EnumerateObject().Single().Value;
        Assert.Equal($"127.0.0.1:{host.Source.BoundPort}", nodes.GetProperty("http").GetProperty("publish_address").GetString());
        using (var put = await client.PutAsync("/_index_template/logs", new StringContent("{\"index_patterns\":[\"logs-*\"]}", Encoding.UTF8, "application/json")))
        {
            Assert.True(JsonDocument.Parse(await put.Content.ReadAsStringAsync()).RootElement.GetProperty("acknowledged").GetBoolean());
        }

        // A 7.x client asking for REST API compatibility gets the compatible media type back.
        using var compat = new HttpRequestMessage(HttpMethod.Get, "/");
        compat.Headers.TryAddWithoutValidation("Accept", "application/vnd.elasticsearch+json; compatible-with=7");
        using var compatible = await client.SendAsync(compat);
        Assert.Equal("application/vnd.elasticsearch+json; compatible-with=7", compatible.Content.Headers.ContentType?.ToString());
    }

    [Fact]
    public async Task AnyEndpoint_WrongToken_401()
    {
        await using var host = await OtlpTestHost.StartAsync(SourceType.Elasticsearch, configure: static o => o.BearerToken = "s3cret");
        using var client = new HttpClient { BaseAddress = host.BaseAddress };
        using var bulk = await client.PostAsync("/_bulk", new StringContent("{\"index\":{\"_index\":\"a\"}}\n{}\n", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Unauthorized, bulk.StatusCode);
        Assert.Contains("security_exception", await bulk.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var root = await client.GetAsync("/");
        Assert.Equal(HttpStatusCode.Unauthorized, root.StatusCode);
        Assert.Equal(0, host.Info.Received);

        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "s3cret");
        using var ok = await client.PostAsync("/_bulk", new StringContent("{\"index\":{\"_index\":\"a\"}}\n{}\n", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task Bulk_OverMaxBodyBytes_413()
    {
        await using var host = await OtlpTestHost.StartAsync(SourceType.Elasticsearch, configure: static o => o.MaxBodyBytes = 1024);
        using var client = new HttpClient { BaseAddress = host.BaseAddress };
        var big = "{\"index\":{\"_index\":\"a\"}}\n{\"message\":\"" + new string('x', 2000) + "\"}\n";
        using var response = await client.PostAsync("/_bulk", new StringContent(big, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Empty(host.TakeEvents());
    }
}
