using Conveyor.Logs.Amqp;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Sources.Amqp;
using Conveyor.Logs.Tests.Support;

namespace Conveyor.Logs.Tests.Amqp;

public sealed class RecordCodecTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 1, 9, 30, 0, TimeSpan.FromHours(2));

    [Fact]
    public void Event_RoundTrip_EveryFieldAndAttributeTypeKept()
    {
        var e = TestEvents.Access("rt", 7, At);
        e.TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        e.SpanId = "00f067aa0ba902b7";
        e.TraceFlags = 1;
        e.EventName = "checkout";
        e.Attributes.Set("ratio", 0.25);
        e.Attributes.Set("bot", true);
        e.Attributes.Set("nothing", null);
        e.Attributes.Set("tags", new List<object?> { "a", 2L, false });
        e.Attributes.Set("syslog.structured_data", new Dictionary<string, object?> { ["ex@1"] = new Dictionary<string, object?> { ["k"] = "v" } });
        e.Resource.Set("service.name", "shop");
        e.Body = "ünïcødé ✓ body";

        var decoded = RoundTrip(w => w.WriteEvent(e));

        Assert.Equal(Json(e), Json(decoded.Event!));
        Assert.Equal(e.Timestamp, decoded.Event!.Timestamp);
        Assert.Equal(e.Timestamp!.Value.Offset, decoded.Event.Timestamp!.Value.Offset);
        Assert.Equal(e.ObservedTimestamp, decoded.Event.ObservedTimestamp);
    }

    [Fact]
    public void Event_WithoutOptionalFields_RoundTrips()
    {
        var e = new LogEvent("id-1", "tcp-5170", "plain", At);
        var decoded = RoundTrip(w => w.WriteEvent(e)).Event!;
        Assert.Equal(Json(e), Json(decoded));
        Assert.Null(decoded.Timestamp);
        Assert.False(decoded.HasResource);
    }

    [Fact]
    public void Raw_IsParsedByTheSourceFormat_WithTheEdgesIdSourceAndTime()
    {
        const string line = "{\"level\":\"error\",\"msg\":\"disk full\"}";
        var outcome = RoundTrip(w => w.WriteRaw("tcp-5170:1:2:3", "tcp-5170", At, line), LogParsers.Create("json"));

        var e = outcome.Event!;
        Assert.Equal(("tcp-5170:1:2:3", "tcp-5170", At, "disk full"), (e.Id, e.Source, e.ObservedTimestamp, e.Body));
        Assert.Equal("error", e.SeverityText, ignoreCase: true);
    }

    [Fact]
    public void DeadLetter_StaysADeadLetter()
    {
        var d = new DeadLetter("x:9", "tcp-5170", "source:tcp", "line longer than 65536 bytes", "aaaa", At);
        var outcome = RoundTrip(w => w.WriteDeadLetter(d));
        Assert.Equal(d, outcome.DeadLetter);
    }

    [Fact]
    public void Split_FindsEachRecordAndItsId()
    {
        var w = new RecordWriter(256);
        for (var i = 0; i < 300; i++)
        {
            // Bodies of growing size cross the one-byte length prefix so the prefix is shifted into place.
            w.WriteRaw("id-" + i, "src", At, new string('x', i * 3));
        }

        var slices = RecordReader.Split(w.Written.Span, 300);
        Assert.Equal(Enumerable.Range(0, 300).Select(i => "id-" + i), slices.Select(s => s.Id));
        var parser = new AmqpRecordParser(LogParsers.Create("plain"));
        var bodies = slices.Select(s => parser.Parse(w.Written.Span.Slice(s.Start, s.Length), default).Event!.Body.Length);
        Assert.Equal(Enumerable.Range(0, 300).Select(i => i * 3), bodies);
    }

    [Theory]
    [InlineData(2, "conveyor-count says 2")]
    [InlineData(4, "conveyor-count says 4")]
    public void Split_CountDiffersFromHeader_Refused(int header, string expected)
    {
        var w = new RecordWriter();
        w.WriteRaw("a", "s", At, "1");
        w.WriteRaw("b", "s", At, "2");
        w.WriteRaw("c", "s", At, "3");
        var ex = Assert.Throws<FormatException>(() => RecordReader.Split(w.Written.Span, header));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Split_TruncatedOrGarbage_RefusedWithWhere()
    {
        var w = new RecordWriter();
        w.WriteEvent(TestEvents.Access("t", 1));
        var bytes = w.Written.ToArray();
        Assert.Contains("runs past the end", Assert.Throws<FormatException>(() => RecordReader.Split(bytes.AsSpan(0, bytes.Length - 3), 1)).Message, StringComparison.Ordinal);
        Assert.Contains("unknown kind", Assert.Throws<FormatException>(() => RecordReader.Split([3, 9, 1, 0x61], 1)).Message, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => RecordReader.Split("not a conveyor message"u8, 1));
    }

    [Fact]
    public void Parser_CorruptPayload_BecomesADeadLetterNamingAmqp()
    {
        var w = new RecordWriter();
        w.WriteEvent(TestEvents.Access("t", 1));
        var slice = RecordReader.Split(w.Written.Span, 1)[0];
        var record = w.Written.Span.Slice(slice.Start, slice.Length - 1).ToArray();   // the last value is cut short

        var outcome = new AmqpRecordParser(LogParsers.Create("auto")).Parse(record, new LineContext("amqp", slice.Id, At));

        Assert.False(outcome.Succeeded);
        Assert.Equal("amqp", outcome.DeadLetter!.Parser);
        Assert.StartsWith("amqp: undecodable record:", outcome.DeadLetter.Reason, StringComparison.Ordinal);
        Assert.Equal(slice.Id, outcome.DeadLetter.Id);
    }

    [Theory]
    [InlineData(DeliveryOutcome.Delivered, true, false)]
    [InlineData(DeliveryOutcome.DeadLettered, true, false)]
    [InlineData(DeliveryOutcome.Dropped, false, true)]
    [InlineData(DeliveryOutcome.Failed, false, false)]
    public void ShouldAcknowledge_MapsEachOutcome(DeliveryOutcome outcome, bool ack, bool requeue)
    {
        Assert.Equal(ack, AmqpSource.ShouldAcknowledge(outcome, out var again));
        Assert.Equal(requeue, again);
    }

    private static ParseOutcome RoundTrip(Action<RecordWriter> write, ILogParser? lines = null)
    {
        var w = new RecordWriter(16);
        write(w);
        Assert.Equal(1, w.Count);
        var slice = Assert.Single(RecordReader.Split(w.Written.Span, 1));
        return new AmqpRecordParser(lines ?? LogParsers.Create("auto")).Parse(w.Written.Span.Slice(slice.Start, slice.Length), new LineContext("amqp", slice.Id, DateTimeOffset.UnixEpoch));
    }

    private static string Json(LogEvent e)
    {
        using var stream = new MemoryStream();
        using (var writer = new System.Text.Json.Utf8JsonWriter(stream))
        {
            LogEventJson.Write(writer, e);
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}
