using System.Text;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;

namespace Conveyor.Logs.Tests.Parsing;

/// <summary>
/// A parser allocates nothing beyond the event's own storage: parsing a line costs no more bytes than building the
/// same event by hand (its body, severity text, attribute keys and string values copied afresh, integers boxed afresh).
/// </summary>
public sealed class AllocationTests
{
    private static readonly LineContext Context = new("s", "s:1", DateTimeOffset.UnixEpoch);

    [Theory]
    [InlineData("combined", "83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1\" 200 203023 \"http://semicomplete.com/presentations/logstash-monitorama-2013/\" \"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36\"")]
    [InlineData("auto", "83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET /presentations/ HTTP/1.1\" 200 203023 \"-\" \"curl/8.5.0\"")]
    [InlineData("syslog3164", "Mar 27 13:06:56 ip-10-77-20-248 sshd[1291]: Server listening on 0.0.0.0 port 22.")]
    [InlineData("logfmt", "time=\"2024-01-15T18:43:09Z\" level=debug msg=\"Handling UDP stream\" a=1 b=two")]
    [InlineData("json", "{\"time\":\"2024-01-15T18:43:09Z\",\"level\":\"debug\",\"msg\":\"Handling UDP stream\",\"a\":1,\"b\":\"two\"}")]
    public void Parse_Line_AllocatesNoMoreThanTheEventItself(string format, string text)
    {
        var parser = LogParsers.Create(format);
        var line = Encoding.UTF8.GetBytes(text);
        parser.Parse(line, Context);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var parsed = parser.Parse(line, Context).Event!;
        var parsing = GC.GetAllocatedBytesForCurrentThread() - before;

        before = GC.GetAllocatedBytesForCurrentThread();
        var copy = new LogEvent(Context.Id, Context.Source, new string(parsed.Body), Context.ReceivedAt)
        {
            SeverityText = parsed.SeverityText is { } severity ? new string(severity) : null,
        };
        foreach (var (key, value) in parsed.Attributes)
        {
            copy.Attributes.Set(new string(key), value switch
            {
                string s => new string(s),
                long l => (object)l,
                _ => value,
            });
        }

        var storage = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(parsing <= storage, $"parsing allocated {parsing} B, the event's storage is {storage} B");
    }

    /// <summary>
    /// Given the line's own array (as the parse workers give RawLine.Data), a whole-line body keeps those bytes: the
    /// event reads back the same body and is cheaper by at least the UTF-16 copy it no longer makes.
    /// </summary>
    [Theory]
    [InlineData("combined", "83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET /presentations/ HTTP/1.1\" 200 203023 \"-\" \"Mozilla/5.0 (X11; Linux x86_64) \u00e9t\u00e9\"")]
    [InlineData("auto", "83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET /presentations/ HTTP/1.1\" 200 203023 \"-\" \"curl/8.5.0\"")]
    [InlineData("plain", "WARN disk almost full on /var")]
    public void Parse_OwnedLine_KeepsItsBytesAsTheBody(string format, string text)
    {
        var parser = LogParsers.Create(format);
        var line = Encoding.UTF8.GetBytes(text);
        var owned = Context with { Line = line };
        parser.Parse(line, owned);
        parser.Parse(line, Context);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var kept = parser.Parse(line, owned).Event!;
        var keeping = GC.GetAllocatedBytesForCurrentThread() - before;
        before = GC.GetAllocatedBytesForCurrentThread();
        var copied = parser.Parse(line, Context).Event!;
        var copying = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(kept.TryGetBodyUtf8(out var body));
        Assert.True(body.SequenceEqual(line));
        Assert.False(copied.TryGetBodyUtf8(out _));
        Assert.True(keeping <= copying - (2 * text.Length), $"keeping the bytes allocated {keeping} B, copying {copying} B");
        Assert.Equal(copied.Body, kept.Body);
    }
}
