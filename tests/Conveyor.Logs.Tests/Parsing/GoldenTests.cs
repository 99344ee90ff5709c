using System.Globalization;
using System.Text;
using System.Text.Json;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;

namespace Conveyor.Logs.Tests.Parsing;

/// <summary>
/// Hand-checked expectations (Golden/golden.jsonl): each case gives a line, a format and either the full event
/// (timestamp with offset, severity, body, every attribute) or the start of the dead-letter reason.
/// </summary>
public sealed class GoldenTests
{
    private static readonly DateTimeOffset DefaultReceived = new(2026, 11, 27, 6, 0, 0, TimeSpan.Zero);
    private static readonly Lazy<string[]> Cases = new(() => File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Parsing", "Golden", "golden.jsonl")));

    public static TheoryData<int, string> All()
    {
        var data = new TheoryData<int, string>();
        for (var i = 0; i < Cases.Value.Length; i++)
        {
            using var doc = JsonDocument.Parse(Cases.Value[i]);
            var root = doc.RootElement;
            var label = root.GetProperty("format").GetString() + " " + (root.TryGetProperty("note", out var note) ? note.GetString() : Preview(root));
            data.Add(i + 1, label);
        }

        return data;
    }

    [Fact]
    public void GoldenFile_HasAtLeast150Cases()
    {
        Assert.True(Cases.Value.Length >= 150, $"only {Cases.Value.Length} golden cases");
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Parse_GoldenLine_MatchesHandCheckedEvent(int caseNumber, string label)
    {
        using var doc = JsonDocument.Parse(Cases.Value[caseNumber - 1]);
        var c = doc.RootElement;
        var line = c.TryGetProperty("line", out var text) ? Encoding.UTF8.GetBytes(text.GetString()!) : Convert.FromHexString(c.GetProperty("line_hex").GetString()!);
        var received = c.TryGetProperty("received", out var r) ? DateTimeOffset.Parse(r.GetString()!, CultureInfo.InvariantCulture) : DefaultReceived;
        var parser = LogParsers.Create(c.GetProperty("format").GetString()!);

        var outcome = parser.Parse(line, new LineContext("golden", "golden:" + caseNumber, received));

        if (c.TryGetProperty("error", out var error))
        {
            Assert.True(outcome.DeadLetter is not null, $"{label}: expected a dead letter, got an event");
            Assert.StartsWith(error.GetString()!, outcome.DeadLetter!.Reason, StringComparison.Ordinal);
            return;
        }

        Assert.True(outcome.Event is not null, $"{label}: {outcome.DeadLetter?.Reason}");
        var e = outcome.Event!;
        var expect = c.GetProperty("expect");
        var ts = expect.GetProperty("timestamp");
        Assert.Equal(ts.ValueKind == JsonValueKind.Null ? null : ts.GetString(), e.Timestamp is { } t ? LogEventJson.FormatTimestamp(t) : null);
        Assert.Equal(expect.GetProperty("severity_number").GetInt32(), e.SeverityNumber);
        var st = expect.GetProperty("severity_text");
        Assert.Equal(st.ValueKind == JsonValueKind.Null ? null : st.GetString(), e.SeverityText);
        var body = expect.TryGetProperty("body", out var b) ? b.GetString() : Encoding.UTF8.GetString(line);
        Assert.Equal(body, e.Body);
        Assert.Equal(received, e.ObservedTimestamp);
        Assert.Equal(Canonical(expect.GetProperty("attributes")), Canonical(e.Attributes.ToDictionary(p => p.Key, p => p.Value)));

        // The parse workers hand over the line's own array; the event it gives writes the same JSON.
        var owned = parser.Parse(line, new LineContext("golden", "golden:" + caseNumber, received, line)).Event!;
        Assert.Equal(Json(e), Json(owned));
    }

    private static string Json(LogEvent e)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, LogEventJson.WriterOptions))
        {
            LogEventJson.Write(writer, e);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string Preview(JsonElement c) =>
        c.TryGetProperty("line", out var l) ? l.GetString()![..Math.Min(40, l.GetString()!.Length)] : "(binary)";

    /// <summary>
    /// Expected side: order-insensitive object keys; a number written with '.' or an exponent is a double, else a long,
    /// or beyond a long's range an exact big integer.
    /// </summary>
    private static string Canonical(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "{" + string.Join(",", element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal)
            .Select(p => JsonSerializer.Serialize(p.Name) + ":" + Canonical(p.Value))) + "}",
        JsonValueKind.Array => "[" + string.Join(",", element.EnumerateArray().Select(Canonical)) + "]",
        JsonValueKind.Number when element.GetRawText().AsSpan().IndexOfAny(".eE") >= 0 => "d:" + element.GetDouble().ToString("R", CultureInfo.InvariantCulture),
        JsonValueKind.Number => element.TryGetInt64(out var l) ? "i:" + l.ToString(CultureInfo.InvariantCulture) : "b:" + element.GetRawText(),
        JsonValueKind.String => JsonSerializer.Serialize(element.GetString()),
        _ => element.GetRawText(),
    };

    /// <summary>Actual side: the attribute values with their CLR types (long vs double matters).</summary>
    private static string Canonical(object? value) => value switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        long l => "i:" + l.ToString(CultureInfo.InvariantCulture),
        double d => "d:" + d.ToString("R", CultureInfo.InvariantCulture),
        System.Numerics.BigInteger big => "b:" + big.ToString(CultureInfo.InvariantCulture),
        string s => JsonSerializer.Serialize(s),
        IReadOnlyDictionary<string, object?> map => "{" + string.Join(",", map.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => JsonSerializer.Serialize(p.Key) + ":" + Canonical(p.Value))) + "}",
        IEnumerable<object?> list => "[" + string.Join(",", list.Select(Canonical)) + "]",
        _ => "unexpected type " + value.GetType().Name,
    };
}
