using System.Globalization;
using System.Net;
using System.Text.Json;

namespace Conveyor.Cli.Tests.Service;

/// <summary>
/// <c>conveyor run --from elasticsearch://…</c> as a real process, written to by the real shippers people run in
/// front of Elasticsearch: rsyslog's omelasticsearch in bulk mode and syslog-ng's <c>elasticsearch-http()</c>. Each
/// tails a file of 20,000 numbered lines and forwards them as JSON documents of several fields; every line must be
/// stored exactly once, with the document's fields as attributes.
/// </summary>
/// <remarks>
/// test.sh installs the shippers (Debian's rsyslog and syslog-ng-core conflict as packages, so rsyslog and
/// rsyslog-elasticsearch are unpacked into a private root) and names them in CONVEYOR_TEST_RSYSLOGD,
/// CONVEYOR_TEST_RSYSLOG_MODULES and CONVEYOR_TEST_SYSLOG_NG; without them the tests fail saying so.
/// </remarks>
public sealed class BulkShipperTests
{
    private const int Lines = 20_000;
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Delivery = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task Run_RsyslogOmelasticsearchBulkMode_EveryLineStoredOnceWithTheDocumentsFields()
    {
        var rsyslogd = ShipperProcess.Tool("CONVEYOR_TEST_RSYSLOGD", "/usr/sbin/rsyslogd", "rsyslogd");
        var modules = ShipperProcess.Tool("CONVEYOR_TEST_RSYSLOG_MODULES", "/usr/lib/x86_64-linux-gnu/rsyslog", "rsyslog's module folder");
        var omelasticsearch = Path.Combine(modules, "omelasticsearch.so");
        Assert.True(File.Exists(omelasticsearch), $"omelasticsearch (Debian rsyslog-elasticsearch) is not in {modules}: run the tests through ./test.sh, which unpacks it there.");

        await ShipAsync("rsyslog", (dir, port, input) =>
        {
            var state = Directory.CreateDirectory(Path.Combine(dir, "rsyslog-state")).FullName;
            var config = Path.Combine(dir, "rsyslog.conf");

            // imfile reads the file from its start (no state yet); the template writes one JSON document per line
            // with several fields; bulk mode sends up to 1 MB per request, retrying forever on failure.
            File.WriteAllText(config, $$"""
                global(workDirectory="{{state}}")
                module(load="imfile")
                module(load="omelasticsearch")
                template(name="doc" type="list" option.jsonf="on") {
                  property(outname="@timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
                  property(outname="message" name="msg" format="jsonf")
                  property(outname="host" name="hostname" format="jsonf")
                  property(outname="program" name="programname" format="jsonf")
                  constant(outname="shipper" value="rsyslog" format="jsonf")
                }
                input(type="imfile" file="{{input}}" tag="bulktest:" ruleset="es")
                ruleset(name="es") {
                  action(type="omelasticsearch" server="127.0.0.1" serverport="{{port}}" template="doc" searchIndex="shipped-rsyslog"
                         bulkmode="on" maxbytes="1m" queue.type="linkedlist" queue.size="100000" queue.dequeueBatchSize="1000"
                         action.resumeRetryCount="-1" errorFile="{{Path.Combine(dir, "es-errors.json")}}")
                }
                """);
            return ShipperProcess.Start("rsyslogd", rsyslogd, ["-n", "-f", config, "-i", Path.Combine(dir, "rsyslogd.pid"), "-M", modules], dir);
        });
    }

    [Fact]
    public async Task Run_SyslogNgElasticsearchHttp_EveryLineStoredOnceWithTheDocumentsFields()
    {
        var syslogNg = ShipperProcess.Tool("CONVEYOR_TEST_SYSLOG_NG", "/usr/sbin/syslog-ng", "syslog-ng (Debian syslog-ng-core with syslog-ng-mod-http)");
        await ShipAsync("syslog-ng", (dir, port, input) =>
        {
            var config = Path.Combine(dir, "syslog-ng.conf");

            // file() reads from the start (fresh persist file); elasticsearch-http() comes from the SCL and needs the
            // http module (syslog-ng-mod-http): without it syslog-ng exits at once, and the test shows its message.
            File.WriteAllText(config, $$"""
                @version: 3.38
                @include "scl.conf"
                options { stats-freq(0); };
                source s_in { file("{{input}}" flags(no-parse) follow-freq(1) program-override("bulktest")); };
                destination d_es {
                  elasticsearch-http(url("http://127.0.0.1:{{port}}/_bulk") index("shipped-syslog-ng") type("")
                    template("$(format-json @timestamp=${ISODATE} message=${MESSAGE} host=${HOST} program=${PROGRAM} shipper=syslog-ng)")
                    batch-lines(500) batch-timeout(200) workers(2) persist-name("conveyor"));
                };
                log { source(s_in); destination(d_es); };
                """);
            return ShipperProcess.Start("syslog-ng", syslogNg,
                ["-F", "--no-caps", "-f", config, "-R", Path.Combine(dir, "syslog-ng.persist"), "-p", Path.Combine(dir, "syslog-ng.pid"), "-c", Path.Combine(dir, "syslog-ng.ctl")], dir);
        });
    }

    /// <summary>
    /// Starts conveyor (bulk receiver, HTTP API, SQLite and NDJSON sinks), writes <see cref="Lines"/> numbered lines
    /// to a file, starts the shipper <paramref name="start"/> makes (given the folder, the receiver's port and the
    /// file), waits until every line is stored, stops both and checks each line is stored once, with its fields.
    /// </summary>
    private static async Task ShipAsync(string shipper, Func<string, int, string, ShipperProcess> start)
    {
        var dir = ConveyorProcess.TempDirectory();
        int http = ConveyorProcess.FreePort(), es = ConveyorProcess.FreePort();
        var db = Path.Combine(dir, "x.db");
        var ndjson = Path.Combine(dir, "events.ndjson");
        var input = Path.Combine(dir, "app.log");
        await File.WriteAllLinesAsync(input, Enumerable.Range(1, Lines).Select(i => Line(shipper, i)));

        await using var p = ConveyorProcess.Start(dir,
            ["run", "--from", $"elasticsearch://127.0.0.1:{es}", "--from", $"http://127.0.0.1:{http}", "--to", "sqlite:" + db, "--to", "ndjson:" + ndjson]);
        await p.WaitForLogAsync("Pipeline started", Startup);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}") };

        await using (var s = start(dir, es, input))
        {
            // Stored, or the shipper gave up (a missing module, a refused config): then its own words say why. "Pipeline
            // started" can be logged a moment before the HTTP API listens, so a refused connection means "not yet".
            await TestWait.UntilAsync(
                async () => s.HasExited || await StoredAsync(client) >= Lines,
                Delivery,
                $"{Lines} lines shipped by {s.Name} stored; {s.Name} said:\n{s.Output}");
            Assert.False(s.HasExited, $"{s.Name} exited before its lines were stored:\n{s.Output}");

            // A sample, through the query language: the document's fields are the event's attributes, _index kept.
            var sample = Assert.Single(await SearchAsync(client, "\"" + Line(shipper, 12_345) + "\""));
            Assert.Equal(Line(shipper, 12_345), sample.GetProperty("body").GetString());
            var attributes = sample.GetProperty("attributes");
            Assert.Equal(shipper, attributes.GetProperty("shipper").GetString());
            Assert.Equal("bulktest", attributes.GetProperty("program").GetString());
            Assert.False(string.IsNullOrEmpty(attributes.GetProperty("host").GetString()));
            Assert.Equal("shipped-" + shipper, attributes.GetProperty("_index").GetString());
            Assert.NotEqual(JsonValueKind.Null, sample.GetProperty("timestamp").ValueKind);

            await s.StopAsync();
        }

        Assert.Equal(0, await p.TerminateAsync(TimeSpan.FromSeconds(60)));

        // Every line once, nothing else: a shipper's retry of a request already admitted would show up twice here.
        var bodies = (await File.ReadAllLinesAsync(ndjson)).Select(static l => JsonDocument.Parse(l).RootElement.GetProperty("body").GetString()).ToList();
        Assert.Equal(Lines, bodies.Count);
        Assert.True(bodies.ToHashSet(StringComparer.Ordinal).SetEquals(Enumerable.Range(1, Lines).Select(i => Line(shipper, i))), "the stored bodies are not the lines written, each once");

        // Conservation: sent = stored + dead-lettered, and nothing refused, dropped or left.
        Assert.Equal(Lines, p.Report("received"));
        Assert.Equal(Lines, p.Report("admitted"));
        Assert.Equal(0, p.Report("refused to senders"));
        Assert.Equal(0, p.Report("left at deadline"));
        Assert.Equal(((long)Lines, 0L), await Senders.CountAsync(db));
    }

    private static async Task<long> StoredAsync(HttpClient client)
    {
        try
        {
            return await RunEndToEndTests.PipelineValue(client, "write:sqlite", "sent");
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }

    private static string Line(string shipper, int i) => string.Create(CultureInfo.InvariantCulture, $"{shipper} line {i:D6} of the bulk test");

    private static async Task<List<JsonElement>> SearchAsync(HttpClient client, string query)
    {
        using var response = await client.GetAsync("/api/search?limit=10&q=" + Uri.EscapeDataString(query));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return [.. JsonDocument.Parse(body).RootElement.GetProperty("events").EnumerateArray()];
    }
}
