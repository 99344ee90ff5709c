using Conveyor.Logs.Configuration;

namespace Conveyor.Logs.Sources.Udp;

/// <summary><c>udp://H:P</c> and <c>syslog+udp://H:P</c>: a <see cref="UdpSource"/>.</summary>
public static class UdpSourceFactory
{
    /// <summary>One line per UDP datagram.</summary>
    public static SourceRegistration Registration { get; } = new(SourceType.Udp, "udp", "udp://H:P", Create) { HostAndPort = true };

    /// <summary>Syslog over UDP, one message per datagram.</summary>
    public static SourceRegistration SyslogRegistration { get; } = new(SourceType.SyslogUdp, "syslog+udp", "syslog+udp://H:P", Create) { HostAndPort = true };

    private static UdpSource Create(SourceContext c) => new UdpSource(c.Options, c.Info, c.Output, c.Logger, c.Time);
}
