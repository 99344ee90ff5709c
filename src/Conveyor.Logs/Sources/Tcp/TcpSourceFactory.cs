using Conveyor.Logs.Configuration;

namespace Conveyor.Logs.Sources.Tcp;

/// <summary><c>tcp://H:P</c> and <c>syslog+tcp://H:P</c> (also <c>syslog://</c>): a <see cref="TcpSource"/>.</summary>
public static class TcpSourceFactory
{
    /// <summary>Newline-delimited lines over TCP.</summary>
    public static SourceRegistration Registration { get; } = new(SourceType.Tcp, "tcp", "tcp://H:P", Create) { HostAndPort = true };

    /// <summary>Syslog over TCP, octet-counting or newline framing.</summary>
    public static SourceRegistration SyslogRegistration { get; } =
        new(SourceType.SyslogTcp, "syslog+tcp", "syslog+tcp://H:P", Create) { HostAndPort = true, Aliases = ["syslog"] };

    private static TcpSource Create(SourceContext c) => new TcpSource(c.Options, c.Info, c.Output, c.Logger, c.Time);
}
