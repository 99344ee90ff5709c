using System.Text;
using System.Text.Json;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;

namespace Conveyor.Logs.Tests.Parsing;

public sealed class LogParsersTests
{
    private static readonly LineContext Context = new("t", "t:1", new DateTimeOffset(2026, 11, 27, 6, 0, 0, TimeSpan.Zero));

    private static ParseOutcome Parse(ILogParser parser, string line) => parser.Parse(Encoding.UTF8.GetBytes(line), Context);

    [Fact]
    public void Create_UnknownFormat_ThrowsListingTheKnownOnes()
    {
        var ex = Assert.Throws<ArgumentException>(() => LogParsers.Create("apache"));
        Assert.Contains("unknown format 'apache'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("combined", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("auto")]
    [InlineData("combined")]
    [InlineData("common")]
    [InlineData("json")]
    [InlineData("logfmt")]
    [InlineData("syslog")]
    [InlineData("syslog5424")]
    [InlineData("syslog3164")]
    public void Create_BuiltInFormat_ParserCarriesTheName(string format)
    {
        Assert.Equal(format, LogParsers.Create(format).Name);
    }

    [Fact]
    public void Parse_ConfiguredZone_AppliesToTimestampsWithoutOffset()
    {
        var zone = TimeZoneInfo.CreateCustomTimeZone("test+0530", TimeSpan.FromMinutes(330), "test", "test");
        var options = new ParserOptions { TimeZone = zone };

        var syslog = Parse(LogParsers.Create("syslog3164", options), "Nov  3 09:23:38 h app: x").Event!;
        Assert.Equal(new DateTimeOffset(2026, 11, 3, 9, 23, 38, TimeSpan.FromMinutes(330)), syslog.Timestamp);
        Assert.Equal(TimeSpan.FromMinutes(330), syslog.Timestamp!.Value.Offset);

        var json = Parse(LogParsers.Create("json", options), "{\"time\":\"2024-01-01 10:00:00\",\"msg\":\"m\"}").Event!;
        Assert.Equal("2024-01-01T10:00:00+05:30", LogEventJson.FormatTimestamp(json.Timestamp!.Value));

        var withOffset = Parse(LogParsers.Create("json", options), "{\"time\":\"2024-01-01T10:00:00Z\"}").Event!;
        Assert.Equal(TimeSpan.Zero, withOffset.Timestamp!.Value.Offset);
    }

    [Fact]
    public void Pattern_MatchingLine_MapsGroupsToAttributesTimestampAndBody()
    {
        var options = new ParserOptions
        {
            Patterns =
            [
                new PatternOptions
                {
                    Name = "app",
                    Pattern = @"^(?<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+:(?<lvl>[A-Z]+):(?<msg>.*)$",
                    Attributes = new Dictionary<string, string> { ["lvl"] = "log.level" },
                    TimestampGroup = "ts",
                    TimestampFormat = "yyyy-MM-dd HH:mm:ss",
                    MessageGroup = "msg",
                },
            ],
        };
        var parser = LogParsers.Create("app", options);

        var e = Parse(parser, "2012-07-02 10:22:40,672:DEBUG:foo bar baz").Event!;
        Assert.Equal(new DateTimeOffset(2012, 7, 2, 10, 22, 40, TimeSpan.Zero), e.Timestamp);
        Assert.Equal("foo bar baz", e.Body);
        Assert.Single(e.Attributes);
        Assert.True(e.Attributes.TryGetString("log.level", out var level));
        Assert.Equal("DEBUG", level);

        var dead = Parse(parser, "not this").DeadLetter!;
        Assert.Equal("app", dead.Parser);
        Assert.Equal("app: line does not match the pattern", dead.Reason);
    }

    [Fact]
    public void Pattern_TimestampGroupWithoutFormat_ReadsIsoOrEpoch()
    {
        var parser = LogParsers.Create("p", new ParserOptions { Patterns = [new PatternOptions { Name = "p", Pattern = @"^(?<t>\S+) (?<rest>.*)$", TimestampGroup = "t" }] });
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), Parse(parser, "1700000000 hello").Event!.Timestamp);
        Assert.StartsWith("p: group 't' is not a timestamp", Parse(parser, "yesterday hello").DeadLetter!.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("(unclosed", null, "does not compile")]
    [InlineData("^(?<a>x)$", "b", "no group named 'b'")]
    public void Create_InvalidPattern_ThrowsNamingThePattern(string pattern, string? timestampGroup, string expected)
    {
        var options = new ParserOptions { Patterns = [new PatternOptions { Name = "bad", Pattern = pattern, TimestampGroup = timestampGroup }] };
        var ex = Assert.Throws<ArgumentException>(() => LogParsers.Create("bad", options));
        Assert.Contains("patterns[bad]", ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SameParserFromManyThreads_GivesTheSameResultsAsSequential()
    {
        var parser = LogParsers.Create("auto");
        var lines = new[] { "apache-combined.log", "syslog-rfc5424.log", "syslog-rfc3164.log", "json.log", "logfmt.log", "malformed.log" }
            .SelectMany(f => Corpus.Lines(f).Take(400))
            .ToArray();
        string Render(int i)
        {
            var outcome = parser.Parse(lines[i], Context);
            if (outcome.Event is null)
            {
                return outcome.DeadLetter!.Reason;
            }

            using var stream = new MemoryStream();
            using (var writer = new Utf8JsonWriter(stream))
            {
                LogEventJson.Write(writer, outcome.Event);
            }

            return Encoding.UTF8.GetString(stream.ToArray());
        }

        var sequential = Enumerable.Range(0, lines.Length).Select(Render).ToArray();
        var parallel = new string[lines.Length];
        Parallel.For(0, lines.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => parallel[i] = Render(i));
        Assert.Equal(sequential, parallel);
    }
}
