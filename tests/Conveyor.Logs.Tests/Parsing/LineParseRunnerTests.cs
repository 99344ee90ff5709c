using System.Text;
using System.Text.Json;
using Conveyor.Logs.Enrichment;
using Conveyor.Logs.Parsing;
using Microsoft.Extensions.Time.Testing;

namespace Conveyor.Logs.Tests.Parsing;

public sealed class LineParseRunnerTests
{
    private static readonly FakeTimeProvider Clock = new(new DateTimeOffset(2026, 11, 27, 6, 0, 0, TimeSpan.Zero));

    private static async Task<JsonElement[]> RunAsync(byte[] input, string format = "auto", EnricherChain? enrichers = null, string source = "stdin")
    {
        using var output = new MemoryStream();
        using (var stdin = new MemoryStream(input))
        {
            await LineParseRunner.RunAsync(stdin, output, LogParsers.Create(format), enrichers, source, Clock, CancellationToken.None);
        }

        var text = Encoding.UTF8.GetString(output.ToArray());
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        return [.. text.TrimEnd('\n').Split('\n').Select(l => JsonDocument.Parse(l).RootElement.Clone())];
    }

    [Fact]
    public async Task RunAsync_MixedLines_OneObjectPerLineInOrderWithErrorsInline()
    {
        var input = Encoding.UTF8.GetBytes(
            "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326 \"-\" \"curl/8.5.0\"\n" +
            "this is not a log line\r\n" +
            "{\"level\":\"info\",\"msg\":\"hi\"}\r\n" +
            "<34>1 2003-10-11T22:14:15.003Z host su - ID47 - failed\n" +
            "{\"broken\"");

        var lines = await RunAsync(input);

        Assert.Equal(5, lines.Length);
        Assert.Equal("stdin:1", lines[0].GetProperty("id").GetString());
        Assert.Equal("stdin", lines[0].GetProperty("source").GetString());
        Assert.Equal("2000-10-10T13:55:36-07:00", lines[0].GetProperty("timestamp").GetString());
        Assert.Equal(2326, lines[0].GetProperty("attributes").GetProperty("http.response.body.size").GetInt64());
        Assert.Equal("this is not a log line", lines[1].GetProperty("body").GetString());
        Assert.Equal(JsonValueKind.Null, lines[1].GetProperty("timestamp").ValueKind);
        Assert.Equal(5, lines[4].GetProperty("line").GetInt32());
        Assert.StartsWith("json: invalid JSON", lines[4].GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal("hi", lines[2].GetProperty("body").GetString());
        Assert.Equal("stdin:3", lines[2].GetProperty("id").GetString());
        Assert.Equal("failed", lines[3].GetProperty("body").GetString());
        Assert.Equal("2026-11-27T06:00:00+00:00", lines[3].GetProperty("observed_timestamp").GetString());
    }

    [Fact]
    public async Task RunAsync_MixedLines_SummaryCountsEachFormatAndTheFailures()
    {
        var input = Encoding.UTF8.GetBytes(
            "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 2326\n" +
            "payment failed for order 42\n" +
            "ERROR card declined\n" +
            "{\"msg\":\"hi\"}\n" +
            "{\"broken\"\n");
        using var output = new MemoryStream();
        using var stdin = new MemoryStream(input);

        var summary = await LineParseRunner.RunAsync(stdin, output, LogParsers.Create("auto"), null, "stdin", Clock, CancellationToken.None);

        Assert.Equal(5, summary.Lines);
        Assert.Equal(1, summary.Failed);
        Assert.Equal(new Dictionary<string, long> { ["common"] = 1, ["json"] = 1, ["plain"] = 2 }, summary.Formats);
        Assert.Equal("5 lines: 1 common, 1 json, 2 plain; 1 failed", summary.ToString());
    }

    [Fact]
    public async Task RunAsync_WithEnrichers_AddsStatusClassAndUserAgent()
    {
        using var chain = EnricherChain.Create(new EnricherOptions());
        var input = Encoding.UTF8.GetBytes("10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \"GET / HTTP/1.1\" 503 0 \"-\" \"curl/8.5.0\"\n");

        var line = (await RunAsync(input, "combined", chain, "access.log")).Single();

        var attributes = line.GetProperty("attributes");
        Assert.Equal("access.log:1", line.GetProperty("id").GetString());
        Assert.Equal("5xx", attributes.GetProperty("http.response.status_class").GetString());
        Assert.Equal("curl", attributes.GetProperty("user_agent.name").GetString());
        Assert.True(attributes.GetProperty("user_agent.is_bot").GetBoolean());
        Assert.Equal("ERROR", line.GetProperty("severity_text").GetString());
    }

    [Fact]
    public async Task RunAsync_LinesLongerThanTheReadBuffer_AreKeptWhole()
    {
        var message = new string('x', 200_000);
        var input = Encoding.UTF8.GetBytes($"{{\"msg\":\"{message}\"}}\n{{\"msg\":\"short\"}}\n");

        var lines = await RunAsync(input, "json");

        Assert.Equal(2, lines.Length);
        Assert.Equal(message, lines[0].GetProperty("body").GetString());
        Assert.Equal("short", lines[1].GetProperty("body").GetString());
    }

    [Fact]
    public async Task RunAsync_EmptyLine_IsReportedAsAFailedLine()
    {
        var lines = await RunAsync(Encoding.UTF8.GetBytes("\n{\"msg\":\"a\"}\n"));
        Assert.Equal(1, lines[0].GetProperty("line").GetInt32());
        Assert.Equal("auto: empty line", lines[0].GetProperty("error").GetString());
        Assert.Equal("a", lines[1].GetProperty("body").GetString());
    }

    [Fact]
    public async Task RunAsync_EmptyInput_WritesNothing()
    {
        using var output = new MemoryStream();
        using var input = new MemoryStream();
        await LineParseRunner.RunAsync(input, output, LogParsers.Create("auto"), null, "stdin", Clock, CancellationToken.None);
        Assert.Equal(0, output.Length);
    }
}
