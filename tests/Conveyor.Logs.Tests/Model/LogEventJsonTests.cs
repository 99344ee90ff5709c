using System.Text;
using System.Text.Json;
using Conveyor.Logs.Model;

namespace Conveyor.Logs.Tests.Model;

public sealed class LogEventJsonTests
{
    private static string Serialize(LogEvent e)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, LogEventJson.WriterOptions))
        {
            LogEventJson.Write(writer, e);
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    [Fact]
    public void Write_AccessEvent_KeepsOffsetTypesAndOrder()
    {
        var e = new LogEvent("f:1", "f", "raw", new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero))
        {
            Timestamp = new DateTimeOffset(2000, 10, 10, 13, 55, 36, TimeSpan.FromHours(-7)),
            SeverityText = "INFO",
            SeverityNumber = Severity.Info,
        };
        e.Attributes.Set(SemanticNames.ClientAddress, "::1");
        e.Attributes.Set(SemanticNames.HttpResponseStatusCode, 200);
        e.Attributes.Set("flag", true);

        using var doc = JsonDocument.Parse(Serialize(e));
        var root = doc.RootElement;
        Assert.Equal("2000-10-10T13:55:36-07:00", root.GetProperty("timestamp").GetString());
        Assert.Equal("2026-01-02T03:04:05+00:00", root.GetProperty("observed_timestamp").GetString());
        Assert.Equal(9, root.GetProperty("severity_number").GetInt32());
        var attrs = root.GetProperty("attributes");
        Assert.Equal(JsonValueKind.Number, attrs.GetProperty("http.response.status_code").ValueKind);
        Assert.Equal(JsonValueKind.True, attrs.GetProperty("flag").ValueKind);
        Assert.Equal(["client.address", "http.response.status_code", "flag"], attrs.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void Write_TextAsWritten_RoundTripsReadably()
    {
        const string body = "GET /a?b=c+d \"q\" <script>alert(1)</script> é \u0001";
        var e = new LogEvent("x", "s", body, new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.FromHours(3.5)));
        var json = Serialize(e);
        Assert.Contains("+03:30", json, StringComparison.Ordinal);
        Assert.Contains("c+d", json, StringComparison.Ordinal);
        Assert.Contains("é", json, StringComparison.Ordinal);
        Assert.Equal(body, JsonDocument.Parse(json).RootElement.GetProperty("body").GetString());
    }

    [Fact]
    public void Set_ExistingKey_ReplacesInPlace()
    {
        var a = new LogAttributes();
        a.Set("a", 1);
        a.Set("b", "x");
        a.Set("a", 2);
        Assert.Equal(2, a.Count);
        Assert.True(a.TryGetInt64("a", out var v));
        Assert.Equal(2, v);
        Assert.Equal("a", a.First().Key);
        Assert.True(a.Remove("a"));
        Assert.False(a.Contains("a"));
    }
}
