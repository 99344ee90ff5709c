using Conveyor.Logs.Parsing;

namespace Conveyor.Logs.Tests.Parsing;

/// <summary>
/// Every corpus file parses, and exactly the lines that break their format are dead-lettered: under <c>auto</c> the
/// MANIFEST's malformed lines that start like a format (<c>&lt;PRI&gt;</c>, <c>{</c>, a syslog date); free text with no
/// format's signature (continuation lines, headers, XML, a docker-compose prefix) is a plain event. An explicit format
/// dead-letters every line that is not in it.
/// </summary>
public sealed class CorpusTests
{
    private static readonly DateTimeOffset Received = new(2026, 11, 27, 6, 0, 0, TimeSpan.Zero);

    public static TheoryData<string, string, int[]> Files => new()
    {
        { "apache-combined.log", "auto", [8899] },
        { "apache-combined.log", "combined", [8899] },
        { "nginx-combined.log", "auto", [] },
        { "nginx-combined.log", "combined", [] },
        { "access-edge-cases.log", "auto", [] },
        // The Common Log Format lines have no referer or user agent, which combined requires.
        { "access-edge-cases.log", "combined", [31, 33, 38, 39, 40, 41, 42, 43] },
        { "syslog-rfc3164.log", "auto", [] },
        { "syslog-rfc3164.log", "syslog3164", [] },
        { "syslog-rfc3164.log", "syslog", [] },
        { "syslog-rfc5424.log", "auto", [] },
        // 183-185 are the VMware file layout without <PRI>VERSION, which only auto-detection accepts.
        { "syslog-rfc5424.log", "syslog5424", [183, 184, 185] },
        { "json.log", "auto", [] },
        { "json.log", "json", [] },
        { "json-access.log", "json", [] },
        { "logfmt.log", "auto", [] },
        { "logfmt.log", "logfmt", [] },
        // Continuation lines (TAB-indented), the two header lines and the French month 'août' have no format's
        // signature: under auto they are plain events, under syslog3164 dead letters.
        { "syslog-variants.log", "auto", [] },
        // 58-60 are RFC 5424 frames (octet-counted or NUL-terminated), which syslog3164 does not read.
        { "syslog-variants.log", "syslog3164", [.. Enumerable.Range(2, 18), 32, 33, 35, 36, 38, 39, 41, 42, 44, 45, 46, 47, 57, 58, 59, 60] },
        {
            // 101, 103 and 108 ('(190>', '122 - -', '<aaa>') do not start like syslog, so auto keeps them as plain lines.
            "malformed.log", "auto",
            [2, 6, 10, 15, 20, 29, 42, 43, 102, 104, 105, 106, 107, .. Enumerable.Range(109, 88)]
        },
    };

    [Theory]
    [MemberData(nameof(Files))]
    public void Parse_CorpusFile_DeadLettersExactlyTheExpectedLines(string file, string format, int[] expectedFailures)
    {
        var parser = LogParsers.Create(format);
        var lines = Corpus.Lines(file);
        var failures = new List<int>();
        for (var i = 0; i < lines.Count; i++)
        {
            var context = new LineContext(file, file + ":" + (i + 1), Received);
            var outcome = parser.Parse(lines[i], context);
            if (outcome.DeadLetter is { } dead)
            {
                failures.Add(i + 1);
                Assert.False(string.IsNullOrWhiteSpace(dead.Reason));
                Assert.Equal(file + ":" + (i + 1), dead.Id);
                Assert.StartsWith(dead.Parser + ":", dead.Reason, StringComparison.Ordinal);
                Assert.NotEmpty(dead.RawLine);
            }
            else
            {
                Assert.Equal(file + ":" + (i + 1), outcome.Event!.Id);
            }
        }

        Assert.Equal(expectedFailures, failures);
    }

    [Theory]
    [InlineData(8899, "user agent has no closing quote")]
    public void Parse_TruncatedApacheLine_ReasonNamesTheField(int lineNumber, string expected)
    {
        var line = Corpus.Lines("apache-combined.log")[lineNumber - 1];
        var outcome = LogParsers.Create("combined").Parse(line, new LineContext("a", "a:1", Received));
        Assert.Contains(expected, outcome.DeadLetter!.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2, "combined: expected client, ident and user before '['")]
    [InlineData(6, "syslog3164: expected TAG")]
    [InlineData(10, "json: invalid JSON")]
    [InlineData(15, "json: invalid JSON")]
    [InlineData(20, "json: invalid JSON")]
    [InlineData(42, "syslog3164: invalid ISO-8601 timestamp")]
    [InlineData(104, "syslog5424: PRI must be 1-3 digits")]
    [InlineData(106, "syslog5424: PRI 192 out of range 0-191")]
    public void Parse_ManifestMalformedLine_ReasonNamesWhatIsWrong(int lineNumber, string expected)
    {
        var line = Corpus.Lines("malformed.log")[lineNumber - 1];
        var outcome = LogParsers.Create("auto").Parse(line, new LineContext("m", "m:1", Received));
        Assert.StartsWith(expected, outcome.DeadLetter!.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("malformed.log", 44)]
    [InlineData("malformed.log", 87)]
    [InlineData("malformed.log", 30)]
    [InlineData("syslog-variants.log", 2)]
    [InlineData("syslog-variants.log", 57)]
    public void Parse_LineWithoutSignature_IsAPlainEventOfTheWholeLine(string file, int lineNumber)
    {
        var line = Corpus.Lines(file)[lineNumber - 1];
        var outcome = LogParsers.Create("auto").Parse(line, new LineContext("m", "m:1", Received));
        Assert.Equal("plain", outcome.Format);
        Assert.Equal(System.Text.Encoding.UTF8.GetString(line), outcome.Event!.Body);
        Assert.Null(outcome.Event.Timestamp);
        Assert.Equal(Received, outcome.Event.ObservedTimestamp);
    }

    [Fact]
    public void Parse_InvalidRfc5424VectorsWithExplicitFormat_AreAllDeadLettered()
    {
        var parser = LogParsers.Create("syslog5424");
        var lines = Corpus.Lines("malformed.log");
        for (var n = 101; n <= 196; n++)
        {
            var outcome = parser.Parse(lines[n - 1], new LineContext("m", "m:" + n, Received));
            Assert.True(outcome.DeadLetter is not null, $"line {n} parsed");
            Assert.StartsWith("syslog5424: ", outcome.DeadLetter!.Reason, StringComparison.Ordinal);
        }
    }
}
