using System.Net;
using System.Net.Sockets;
using Conveyor.Logs.Model;

namespace Conveyor.Logs.Enrichment;

/// <summary>
/// Truncates <c>client.address</c>: IPv4 to its /24 (<c>203.0.113.77</c> → <c>203.0.113.0</c>), IPv6 to its /48
/// (<c>2001:db8:1:2::7</c> → <c>2001:db8:1::</c>). An IPv4-mapped IPv6 address is truncated as IPv4. A value that is
/// not an IP address (<c>localhost</c>, <c>unix:</c>) is left as is.
/// </summary>
public sealed class AnonymizeClientEnricher : ILogEnricher
{
    /// <inheritdoc />
    public void Enrich(LogEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (e.Attributes.TryGetString(SemanticNames.ClientAddress, out var text) && Anonymize(text) is { } masked)
        {
            e.Attributes.Set(SemanticNames.ClientAddress, masked);
        }
    }

    /// <summary>The truncated address, or null when <paramref name="text"/> is not an IP address.</summary>
    public static string? Anonymize(string text)
    {
        if (!IPAddress.TryParse(text, out var ip))
        {
            return null;
        }

        if (ip.IsIPv4MappedToIPv6)
        {
            ip = ip.MapToIPv4();
        }

        Span<byte> bytes = stackalloc byte[16];
        ip.TryWriteBytes(bytes, out var written);
        bytes = bytes[..written];
        var keep = ip.AddressFamily == AddressFamily.InterNetwork ? 3 : 6;
        bytes[keep..].Clear();
        return new IPAddress(bytes).ToString();
    }
}
