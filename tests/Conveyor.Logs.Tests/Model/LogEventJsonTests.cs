using System.Globalization;
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
    public void Write_StringsMetAgain_WriteTheSameBytesAsTheFirstTime()
    {
        // Keys and values met again as the same objects are copied from their encoding (EncodedStrings): the bytes must
        // be the writer's own, escapes included, however often a string comes back.
        string[] values = ["plain", "say \"hi\"", "back\\slash", "<tag>&amp;", "tab\tand\u0001", "caf\u00e9", "emoji \U0001F600", new string('u', 256), new string('v', 257), "x\ud800y"];
        var e = new LogEvent("f:1", "source \"q\"", "raw", TestTime);
        foreach (var (v, i) in values.Select((v, i) => (v, i)))
        {
            e.Attributes.Set(i % 2 == 0 ? "key." + v : "k" + i, v);
        }

        var expected = PlainWrite(e, LogEventJson.WriterOptions);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(expected, Serialize(e));
        }

        // A writer that escapes otherwise (the default encoder escapes quotes and HTML characters) writes its own.
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            LogEventJson.Write(writer, e);
        }

        Assert.Equal(PlainWrite(e, default), Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static readonly DateTimeOffset TestTime = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    /// <summary>The event as the writer's string calls write it, with no encoded strings at all.</summary>
    private static string PlainWrite(LogEvent e, JsonWriterOptions options)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, options))
        {
            w.WriteStartObject();
            w.WriteString("id", e.Id);
            w.WriteString("source", e.Source);
            w.WriteNull("timestamp");
            w.WriteString("observed_timestamp", "2026-01-02T03:04:05+00:00");
            w.WriteNull("severity_text");
            w.WriteNumber("severity_number", e.SeverityNumber);
            w.WriteString("body", e.Body);
            w.WriteStartObject("attributes");
            foreach (var (k, v) in e.Attributes)
            {
                w.WriteString(k, (string)v!);
            }

            w.WriteEndObject();
            w.WriteStartObject("resource");
            w.WriteEndObject();
            w.WriteEndObject();
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

    /// <summary>
    /// A body kept as the received UTF-8 bytes is written exactly as its decoded string would be: quotes, backslashes,
    /// control characters escaped, text as written, invalid UTF-8 as U+FFFD.
    /// </summary>
    [Theory]
    [InlineData(new byte[] { (byte)'a', (byte)'"', (byte)'\\', (byte)'b' })]
    [InlineData(new byte[] { (byte)'x', 0x00, 0x01, 0x09, 0x0A, 0x1F, 0x7F, (byte)'<', (byte)'>', (byte)'&', (byte)'+', (byte)'\'' })]
    [InlineData(new byte[] { 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80, 0xE2, 0x80, 0xA8 })]
    [InlineData(new byte[] { (byte)'a', 0xFF, (byte)'b', 0xC3, (byte)'c', 0xE2, 0x82, 0xF0, 0x9F, 0x98, 0xED, 0xA0, 0x80, 0xC0, 0xAF })]
    [InlineData(new byte[] { 0xE2, 0x82 })]
    [InlineData(new byte[0])]
    public void Write_BodyFromBytes_IsTheBodyFromItsString(byte[] line)
    {
        var observed = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        var fromBytes = new LogEvent("f:1", "f", line, observed);
        var fromString = new LogEvent("f:1", "f", Encoding.UTF8.GetString(line), observed);

        Assert.True(fromBytes.TryGetBodyUtf8(out _));
        Assert.False(fromString.TryGetBodyUtf8(out _));
        var json = Serialize(fromBytes);
        Assert.Equal(Serialize(fromString), json);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(Encoding.UTF8.GetString(line), doc.RootElement.GetProperty("body").GetString());
        Assert.Equal(Encoding.UTF8.GetString(line), fromBytes.Body);
    }

    [Fact]
    public void Body_SetOnAnEventFromBytes_ReplacesTheBytes()
    {
        var e = new LogEvent("f:1", "f", "old"u8.ToArray(), DateTimeOffset.UnixEpoch) { Body = "new" };

        Assert.False(e.TryGetBodyUtf8(out _));
        Assert.Equal("new", e.Body);
        Assert.Contains("\"body\":\"new\"", Serialize(e), StringComparison.Ordinal);
    }

    /// <summary>The hand-written timestamp formatter writes exactly what the custom format string did.</summary>
    [Fact]
    public void FormatTimestamp_MatchesTheCustomFormat()
    {
        var offsets = new[] { TimeSpan.Zero, TimeSpan.FromHours(-7), TimeSpan.FromMinutes(330), TimeSpan.FromMinutes(-(14 * 60)), TimeSpan.FromHours(14), TimeSpan.FromMinutes(-30) };
        var clocks = new List<DateTime>
        {
            new(1, 1, 1, 0, 0, 0),
            new(9999, 12, 31, 23, 59, 59),
            new DateTime(9999, 12, 31, 23, 59, 59).AddTicks(9_999_999),
            new DateTime(2026, 3, 4, 5, 6, 7).AddTicks(1),
            new DateTime(2026, 3, 4, 5, 6, 7).AddTicks(1_000_000),
            new DateTime(2026, 3, 4, 5, 6, 7).AddTicks(1_234_560),
            new(999, 10, 10, 13, 55, 36),
        };
        var random = new Random(11);
        for (var i = 0; i < 2000; i++)
        {
            clocks.Add(new DateTime(random.NextInt64(TimeSpan.TicksPerDay, DateTime.MaxValue.Ticks - TimeSpan.TicksPerDay)));
        }

        foreach (var clock in clocks)
        {
            foreach (var offset in offsets)
            {
                if (clock.Ticks - offset.Ticks is < 0 or > 3_155_378_975_999_999_999)
                {
                    continue; // the UTC instant would fall outside DateTimeOffset's range
                }

                var value = new DateTimeOffset(DateTime.SpecifyKind(clock, DateTimeKind.Unspecified), offset);
                Assert.Equal(value.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFFzzz", CultureInfo.InvariantCulture), LogEventJson.FormatTimestamp(value));
            }
        }
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

    [Theory]
    [InlineData(0.0, "0.0")]
    [InlineData(-0.0, "-0.0")]
    [InlineData(1000.0, "1000.0")]
    [InlineData(0.5, "0.5")]
    [InlineData(1e-7, "1E-07")]
    [InlineData(-2.5e-7, "-2.5E-07")]
    [InlineData(1e15, "1000000000000000.0")]
    [InlineData(1.5e20, "150000000000000000000.0")]
    [InlineData(-1.2345678901234567E+15, "-1234567890123456.8")]
    [InlineData(1.2345678901234567E+16, "12345678901234568.0")]
    public void WriteValue_Double_KeepsAPointOrExponentAndItsValue(double value, string expected)
    {
        var text = WriteValue(value);
        Assert.Equal(expected, text);
        var back = ReadBack(text);
        Assert.IsType<double>(back);
        Assert.Equal(value, (double)back!);
        Assert.Equal(double.IsNegative(value), double.IsNegative((double)back!));
    }

    [Fact]
    public void WriteValue_LargestDouble_IsPositionalAndExact()
    {
        var text = WriteValue(double.MaxValue);
        Assert.Equal(309 + 2, text.Length);
        Assert.Equal(double.MaxValue, Assert.IsType<double>(ReadBack(text)));
    }

    [Theory]
    [InlineData("18446744073709551615")]
    [InlineData("-9223372036854775809")]
    [InlineData("123456789012345678901234567890")]
    public void WriteValue_IntegerBeyondLong_IsExact(string digits)
    {
        var value = System.Numerics.BigInteger.Parse(digits, System.Globalization.CultureInfo.InvariantCulture);
        var text = WriteValue(value);
        Assert.Equal(digits, text);
        Assert.Equal(value, Assert.IsType<System.Numerics.BigInteger>(ReadBack(text)));
    }

    [Fact]
    public void WriteValue_LongAndEmptyContainers_ReadBackAsThemselves()
    {
        Assert.Equal(0L, Assert.IsType<long>(ReadBack(WriteValue(0L))));
        Assert.Equal(long.MinValue, Assert.IsType<long>(ReadBack(WriteValue(long.MinValue))));
        Assert.Empty(Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(ReadBack(WriteValue(new Dictionary<string, object?>()))));
        Assert.Empty(Assert.IsAssignableFrom<IReadOnlyList<object?>>(ReadBack(WriteValue(new List<object?>()))));
    }

    private static string WriteValue(object? value)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, LogEventJson.WriterOptions))
        {
            LogEventJson.WriteValue(writer, value);
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Reads a value back the way the SQL stores do (<c>StoredEvent.ReadAttributes</c>).</summary>
    private static object? ReadBack(string valueJson)
    {
        var target = new LogAttributes();
        Conveyor.Logs.Sinks.StoredEvent.ReadAttributes("{\"v\":" + valueJson + "}", target);
        target.TryGetValue("v", out var value);
        return value;
    }
}
