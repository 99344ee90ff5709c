using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Microsoft.Extensions.Logging;

namespace Conveyor.Logs.Sources.Udp;

/// <summary>
/// One record per UDP datagram (<c>udp://</c>, <c>syslog+udp://</c>); a trailing LF or CRLF is dropped. UDP cannot
/// push back, so a datagram that finds the buffer full is dropped at once and counted, never waited for.
/// </summary>
/// <remarks>Ids are <c>source:start-epoch-ms:datagram#</c>.</remarks>
public sealed partial class UdpSource : LogSource
{
    private Socket? _socket;

    /// <summary>Creates the source; <see cref="LogSource.StartAsync"/> binds it.</summary>
    public UdpSource(SourceOptions options, SourceInfo info, BufferWriter<RawLine> output, ILogger logger, TimeProvider time)
        : base(options, info, output, logger, time)
    {
    }

    /// <summary>The bound endpoint.</summary>
    public IPEndPoint? LocalEndpoint => _socket?.LocalEndPoint as IPEndPoint;

    /// <inheritdoc />
    protected override Task BindAsync(CancellationToken cancellationToken)
    {
        var address = string.Equals(Options.Host, "localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback : IPAddress.Parse(Options.Host);
        _socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);

        // A bigger kernel buffer absorbs bursts while the workers catch up; what overflows it the kernel drops
        // where we cannot count it, so make it large.
        _socket.ReceiveBufferSize = 8 << 20;
        _socket.Bind(new IPEndPoint(address, Options.Port));
        LogListening(Logger, Info.Name, _socket.LocalEndPoint?.ToString() ?? string.Empty);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    protected override void OnStopping() => _socket?.Close();

    /// <inheritdoc />
    protected override async Task RunAsync()
    {
        var socket = _socket!;
        var buffer = new byte[65_536];
        var prefix = Info.Name + ":" + Time.GetUtcNow().ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) + ":";
        long number = 0;
        EndPoint any = new IPEndPoint(socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!StopReading.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try
            {
                r = await socket.ReceiveFromAsync(buffer, SocketFlags.None, any, StopReading).ConfigureAwait(false);
            }
            catch (Exception) when (StopReading.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                // ICMP errors from earlier sends surface here on some stacks; a receive socket carries on.
                continue;
            }

            var length = r.ReceivedBytes;
            while (length > 0 && buffer[length - 1] is (byte)'\n' or (byte)'\r')
            {
                length--;
            }

            if (length == 0)
            {
                continue;
            }

            number++;
            var line = new RawLine(buffer.AsSpan(0, length).ToArray(), Info, prefix + number.ToString(CultureInfo.InvariantCulture), Time.GetUtcNow());
            Info.OnReceived(1);
            bool written;
            try
            {
                written = Output.TryWrite(line);
            }
            catch (BufferCompletedException)
            {
                written = false;
            }

            if (written)
            {
                Info.OnAdmitted(1);
            }
            else
            {
                Info.OnDropped(1);
            }
        }
    }

    [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "Source {Source} listening on udp://{Endpoint}")]
    private static partial void LogListening(ILogger logger, string source, string endpoint);
}
