using Conveyor.Logs.Model;

namespace Conveyor.Logs.Tests.Query;

/// <summary>Thirty hand-made events, and queries over them with the ids each must return (newest first).</summary>
internal static class GoldenData
{
    private static readonly int[] Statuses = [200, 200, 404, 500, 301, 200, 503, 200, 403, 200];

    public static List<LogEvent> Events()
    {
        var start = new DateTimeOffset(2026, 11, 20, 10, 0, 0, TimeSpan.Zero);
        var list = new List<LogEvent>();
        for (var i = 1; i <= 30; i++)
        {
            var status = Statuses[i % 10];
            var at = start.AddMinutes(i);
            var url = i % 7 == 0 ? "/login" : $"/api/items/{i}";
            var method = i % 4 == 0 ? "POST" : "GET";
            var ua = i % 3 == 0 ? "curl/8.0" : "Mozilla/5.0 (X11; Linux)";
            var body = $"10.0.0.{i % 5} - - \"{method} {url} HTTP/1.1\" {status} {i * 100} \"-\" \"{ua}\"";
            if (i % 6 == 0)
            {
                body += " upstream timeout";
            }

            if (i == 13)
            {
                body += " Ünïcode café ☕";
            }

            var e = new LogEvent($"g{i:D2}", i <= 15 ? "web1" : "web2", body, at.AddSeconds(1))
            {
                // Odd events keep a +02:00 offset, to check offsets survive the store.
                Timestamp = i == 30 ? null : (i % 2 == 1 ? at.ToOffset(TimeSpan.FromHours(2)) : at),
                SeverityNumber = status >= 500 ? Severity.Error : status >= 400 ? Severity.Warn : Severity.Info,
            };
            e.SeverityText = i == 1 ? "info" : Severity.TextOf(e.SeverityNumber);
            e.Attributes.Set(SemanticNames.ClientAddress, $"10.0.0.{i % 5}");
            e.Attributes.Set(SemanticNames.HttpRequestMethod, method);
            e.Attributes.Set(SemanticNames.UrlOriginal, url);
            e.Attributes.Set(SemanticNames.HttpResponseStatusCode, (long)status);
            e.Attributes.Set(SemanticNames.HttpResponseBodySize, i * 100L);
            e.Attributes.Set(SemanticNames.UserAgentOriginal, ua);
            e.Attributes.Set(SemanticNames.UserAgentIsBot, i % 3 == 0);
            if (i % 4 == 1)
            {
                e.Attributes.Set(SemanticNames.UserName, "alice");
            }

            if (i == 5)
            {
                e.Attributes.Set("a'b", "quoted key");
                e.Resource.Set(SemanticNames.ServiceName, "shop");
            }

            if (i == 8)
            {
                e.Attributes.Set("labels", new Dictionary<string, object?> { ["team"] = "core" });
            }

            if (i == 11)
            {
                // Number kinds and empty containers, which a store must give back as they were (issue 14).
                e.Attributes.Set("duration", 0.0);
                e.Attributes.Set("ratio", 1e3);
                e.Attributes.Set("huge", 1.5e20);
                e.Attributes.Set("tiny", -2.5e-7);
                e.Attributes.Set("count", 0L);
                e.Attributes.Set("trace.big", System.Numerics.BigInteger.Parse("18446744073709551615123", System.Globalization.CultureInfo.InvariantCulture));
                e.Attributes.Set("empty", new Dictionary<string, object?>());
                e.Attributes.Set("none", new List<object?>());
            }

            list.Add(e);
        }

        return list;
    }

    private static string[] Where(Func<int, bool> predicate) =>
        Enumerable.Range(1, 30).Where(predicate).OrderByDescending(i => i).Select(i => $"g{i:D2}").ToArray();

    private static int Status(int i) => Statuses[i % 10];

    /// <summary>Expression → ids, newest first. Event 30 has no timestamp; its observed time (minute 30 + 1 s) orders it.</summary>
    public static TheoryData<string, string[]> Cases() => new()
    {
        { "", Where(_ => true) },
        { "*", Where(_ => true) },
        { "status = 500", Where(i => Status(i) == 500) },
        { "status >= 500", Where(i => Status(i) >= 500) },
        { "status>=400 AND status<500", Where(i => Status(i) is >= 400 and < 500) },
        { "http.response.status_code != 200", Where(i => Status(i) != 200) },
        { "status = 404 OR status = 403", Where(i => Status(i) is 404 or 403) },
        { "NOT status = 200", Where(i => Status(i) != 200) },
        { "not (status = 200 or method = POST)", Where(i => Status(i) != 200 && i % 4 != 0) },
        { "method = POST", Where(i => i % 4 == 0) },
        { "method = post", [] },
        { "client = 10.0.0.3", Where(i => i % 5 == 3) },
        { "client.address = '10.0.0.3' method = GET", Where(i => i % 5 == 3 && i % 4 != 0) },
        { "url = /login", Where(i => i % 7 == 0) },
        { "url ~ items/1", Where(i => i % 7 != 0 && $"/api/items/{i}".Contains("items/1", StringComparison.Ordinal)) },
        { "ua ~ CURL", Where(i => i % 3 == 0) },
        { "level = error", Where(i => Status(i) >= 500) },
        { "level = INFO", Where(i => Status(i) < 400) },
        { "level >= warn", Where(i => Status(i) >= 400) },
        { "level < WARN", Where(i => Status(i) < 400) },
        { "severity > 9", Where(i => Status(i) >= 400) },
        { "source = web2 AND status = 200", Where(i => i > 15 && Status(i) == 200) },
        { "timeout", Where(i => i % 6 == 0) },
        { "TimeOut", Where(i => i % 6 == 0) },
        { "\"upstream timeout\"", Where(i => i % 6 == 0) },
        { "body ~ 'items/2'", Where(i => i % 7 != 0 && $"/api/items/{i}".Contains("items/2", StringComparison.Ordinal)) },
        { "timeout status = 503", Where(i => i % 6 == 0 && Status(i) == 503) },
        { "café", ["g13"] },
        { "☕", ["g13"] },
        { "\"10.0.0.3 -\"", Where(i => i % 5 == 3) },
        { "client ~ .0.3", Where(i => i % 5 == 3) },
        { "http.response.body.size > 2500", Where(i => i * 100 > 2500) },
        { "http.response.body.size = 700", ["g07"] },
        { "user.name = alice", Where(i => i % 4 == 1) },
        { "user.name != alice", Where(i => i % 4 != 1) },
        { "user_agent.is_bot = true", Where(i => i % 3 == 0) },
        { "no.such.attribute = x", [] },
        { "time >= 2026-11-20T10:25:00Z", Where(i => i >= 25) },
        { "timestamp < '2026-11-20T12:03:00+02:00'", Where(i => i < 3) },
        { "(status = 500 OR status = 503) AND source = web1", Where(i => Status(i) >= 500 && i <= 15) },
        { "\"'; DROP TABLE events; --\"", [] },
        { "x = \"') OR 1=1; DROP TABLE events; --\"", [] },
        { "status = \"500; DROP TABLE events\"", [] },
        { "url = '/login\\' OR 1=1 --'", [] },
        { "/* comment */ status = 500", [] },
        { "id = g05", ["g05"] },
    };
}
