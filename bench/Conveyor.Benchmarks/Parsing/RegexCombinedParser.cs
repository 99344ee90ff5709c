using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;

namespace Conveyor.Benchmarks.Parsing;

/// <summary>
/// The comparison point for <c>combined</c>: the same grammar and the same event as the span parser, written the
/// obvious way with a source-generated regex over the decoded line.
/// </summary>
internal sealed partial class RegexCombinedParser
{
    [GeneratedRegex("""^(?<client>\S+) (?<ident>\S+) (?<user>\S+) \[(?<time>[^\]]+)\] "(?<request>(?:[^"\\]|\\.)*)" (?<status>\d{3}) (?<bytes>\d+|-) "(?<referer>(?:[^"\\]|\\.)*)" "(?<agent>(?:[^"\\]|\\.)*)"(?: (?<trailing>.*))?$""", RegexOptions.CultureInvariant)]
    private static partial Regex Combined();

    [GeneratedRegex("""^(?<method>[A-Z]+) (?<target>\S+) HTTP/(?<version>\d(?:\.\d)?)$""", RegexOptions.CultureInvariant)]
    private static partial Regex Request();

    public LogEvent? Parse(ReadOnlySpan<byte> bytes, in LineContext context)
    {
        var line = Encoding.UTF8.GetString(bytes);
        var m = Combined().Match(line);
        if (!m.Success || !DateTimeOffset.TryParseExact(m.Groups["time"].Value, "dd/MMM/yyyy:HH:mm:ss zzz", CultureInfo.InvariantCulture, DateTimeStyles.None, out var ts))
        {
            return null;
        }

        var e = new LogEvent(context.Id, context.Source, line, context.ReceivedAt) { Timestamp = ts };
        var a = e.Attributes;
        a.Set(SemanticNames.ClientAddress, m.Groups["client"].Value);
        SetUnlessDash(a, SemanticNames.UserIdent, m.Groups["ident"].Value);
        SetUnlessDash(a, SemanticNames.UserName, m.Groups["user"].Value);
        var request = m.Groups["request"].Value;
        var r = Request().Match(request);
        if (r.Success)
        {
            a.Set(SemanticNames.HttpRequestMethod, r.Groups["method"].Value);
            a.Set(SemanticNames.UrlOriginal, r.Groups["target"].Value);
            a.Set(SemanticNames.NetworkProtocolName, "http");
            a.Set(SemanticNames.NetworkProtocolVersion, r.Groups["version"].Value);
        }
        else if (request != "-")
        {
            a.Set(SemanticNames.UrlOriginal, request);
        }

        a.Set(SemanticNames.HttpResponseStatusCode, long.Parse(m.Groups["status"].ValueSpan, CultureInfo.InvariantCulture));
        if (m.Groups["bytes"].Value != "-")
        {
            a.Set(SemanticNames.HttpResponseBodySize, long.Parse(m.Groups["bytes"].ValueSpan, CultureInfo.InvariantCulture));
        }

        SetUnlessDash(a, SemanticNames.HttpRequestHeaderReferer, m.Groups["referer"].Value);
        SetUnlessDash(a, SemanticNames.UserAgentOriginal, m.Groups["agent"].Value);
        if (m.Groups["trailing"].Success)
        {
            a.Set(SemanticNames.LogRecordTrailing, m.Groups["trailing"].Value);
        }

        return e;
    }

    private static void SetUnlessDash(LogAttributes a, string key, string value)
    {
        if (value != "-")
        {
            a.Set(key, value);
        }
    }
}
