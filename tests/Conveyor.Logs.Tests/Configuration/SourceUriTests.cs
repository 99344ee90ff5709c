using Conveyor.Logs.Configuration;
using Conveyor.Logs.Sinks;

namespace Conveyor.Logs.Tests.Configuration;

public sealed class SourceUriTests
{
    [Theory]
    [InlineData("tcp://127.0.0.1:5170", SourceType.Tcp, "127.0.0.1", 5170)]
    [InlineData("udp://0.0.0.0:9000", SourceType.Udp, "0.0.0.0", 9000)]
    [InlineData("syslog+tcp://127.0.0.1:5514", SourceType.SyslogTcp, "127.0.0.1", 5514)]
    [InlineData("syslog+udp://[::1]:5514", SourceType.SyslogUdp, "::1", 5514)]
    [InlineData("http://127.0.0.1:8080", SourceType.Http, "127.0.0.1", 8080)]
    public void Parse_NetworkUri_GivesTypeHostAndPort(string uri, SourceType type, string host, int port)
    {
        var s = SourceUri.Parse(uri);
        Assert.Equal((type, host, port), (s.Type, s.Host, s.Port));
    }

    [Fact]
    public void Parse_FileAndStdin_GivePathAndType()
    {
        Assert.Equal("/var/log/nginx/*.log", SourceUri.Parse("file:///var/log/nginx/*.log").Path);
        Assert.Equal(SourceType.Stdin, SourceUri.Parse("stdin:").Type);
    }

    [Fact]
    public void Parse_FileWithCheckpointIgnore_StartsOverOnThatPath()
    {
        var options = SourceUri.Parse("file:///var/log/*.log?checkpoint=ignore");
        Assert.Equal("/var/log/*.log", options.Path);
        Assert.Equal(FileCheckpoint.Ignore, options.Checkpoint);
        Assert.Equal(FileCheckpoint.Resume, SourceUri.Parse("file:///var/log/*.log").Checkpoint);
        Assert.Contains("checkpoint=ignore", Assert.Throws<FormatException>(() => SourceUri.Parse("file:///x/*.log?from=start")).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ftp://h:1")]
    [InlineData("tcp://nohost")]
    [InlineData("garbage")]
    public void Parse_Unknown_ThrowsFormatExceptionSayingWhatWasExpected(string uri) =>
        Assert.Contains("expected", Assert.Throws<FormatException>(() => SourceUri.Parse(uri)).Message, StringComparison.Ordinal);

    [Theory]
    [InlineData("sqlite:x.db", null)]
    [InlineData("slow:5ms+sqlite:x.db", null)]
    [InlineData("slow:5ms+null:", null)]
    [InlineData("null:", null)]
    [InlineData("slow:xx+null:", "expected slow:DURATION+URI")]
    [InlineData("mysql:x", "unknown sink")]
    [InlineData("sqlite:", "needs a path")]
    public void SinkUriCheck_EachForm_ProblemOrNull(string uri, string? problem)
    {
        var result = SinkRegistry.Check(uri);
        if (problem is null)
        {
            Assert.Null(result);
        }
        else
        {
            Assert.Contains(problem, result, StringComparison.Ordinal);
        }
    }
}
