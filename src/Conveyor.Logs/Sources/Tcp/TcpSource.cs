using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Sources.Framing;
using Microsoft.Extensions.Logging;

namespace Conveyor.Logs.Sources.Tcp;

/// <summary>
/// Lines over TCP (<c>tcp://</c>), or syslog over TCP with RFC 6587 framing (<c>syslog+tcp://</c>). Each
/// connection reads only after the previous read's lines are in the buffer, so a full buffer stops reading and TCP
/// flow control slows the sender. A connection idle longer than the idle timeout is closed (slowloris).
/// </summary>
/// <remarks>Ids are <c>source:accept-epoch-ms:connection#:line#</c>.</remarks>
public sealed partial class TcpSource : LogSource
{
    private readonly List<Task> _connections = [];
    private readonly Lock _connectionsLock = new();
    private readonly SemaphoreSlim _slots;
    private TcpListener? _listener;
    private long _connectionCount;

    /// <summary>Creates the source; <see cref="LogSource.StartAsync"/> binds it.</summary>
    public TcpSource(SourceOptions options, SourceInfo info, BufferWriter<RawLine> output, ILogger logger, TimeProvider time)
        : base(options, info, output, logger, time)
    {
        _slots = new SemaphoreSlim(options.MaxConnections, options.MaxConnections);
    }

    /// <summary>The bound endpoint (useful with port 0).</summary>
    public IPEndPoint? LocalEndpoint => _listener?.LocalEndpoint as IPEndPoint;

    /// <summary>Connections open now.</summary>
    public int OpenConnections => Options.MaxConnections - _slots.CurrentCount;

    /// <inheritdoc />
    protected override Task BindAsync(CancellationToken cancellationToken)
    {
        var address = string.Equals(Options.Host, "localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback : IPAddress.Parse(Options.Host);
        _listener = new TcpListener(address, Options.Port);
        _listener.Start(backlog: 512);
        LogListening(Logger, Info.Name, _listener.LocalEndpoint.ToString() ?? string.Empty);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    protected override void OnStopping() => _listener?.Stop();

    /// <inheritdoc />
    protected override async Task RunAsync()
    {
        var listener = _listener!;
        try
        {
            while (!StopReading.IsCancellationRequested)
            {
                await _slots.WaitAsync(StopReading).ConfigureAwait(false);
                Socket socket;
                try
                {
                    socket = await listener.AcceptSocketAsync(StopReading).ConfigureAwait(false);
                }
                catch
                {
                    _slots.Release();
                    throw;
                }

                var number = Interlocked.Increment(ref _connectionCount);
                var task = Task.Run(() => ServeAsync(socket, number), CancellationToken.None);
                lock (_connectionsLock)
                {
                    _connections.RemoveAll(static t => t.IsCompleted);
                    _connections.Add(task);
                }
            }
        }
        catch (Exception) when (StopReading.IsCancellationRequested)
        {
        }

        Task[] open;
        lock (_connectionsLock)
        {
            open = [.. _connections];
        }

        await Task.WhenAll(open).ConfigureAwait(false);
    }

    private async Task ServeAsync(Socket socket, long number)
    {
        try
        {
            socket.NoDelay = true;
            var stream = new NetworkStream(socket, ownsSocket: true);
            await using (stream.ConfigureAwait(false))
            {
                var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024, leaveOpen: true));
                var prefix = Info.Name + ":" + Time.GetUtcNow().ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) + ":" + number.ToString(CultureInfo.InvariantCulture) + ":";
                FrameReader framer;
                if (Options.Type == SourceType.SyslogTcp)
                {
                    var syslog = new SyslogFramer(Options.MaxLineBytes);
                    framer = syslog.TryRead;
                }
                else
                {
                    framer = new LineFramer(Options.MaxLineBytes).TryRead;
                }

                var pump = new FramedStream
                {
                    Source = Info,
                    Output = Output,
                    Framer = framer,
                    IdFor = (line, _) => prefix + line.ToString(CultureInfo.InvariantCulture),
                    Time = Time,
                    MaxFrameBytes = Options.MaxLineBytes,
                    IdleTimeout = Options.IdleTimeout,
                };
                var end = await pump.RunAsync(reader, StopReading, Abandon).ConfigureAwait(false);
                await reader.CompleteAsync().ConfigureAwait(false);
                if (end == StreamEnd.Idle)
                {
                    LogIdleClosed(Logger, Info.Name, socket.RemoteEndPoint?.ToString() ?? "?", Options.IdleTimeout.TotalSeconds);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            LogConnectionError(Logger, Info.Name, ex.Message);
        }
        finally
        {
            _slots.Release();
        }
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Source {Source} listening on tcp://{Endpoint}")]
    private static partial void LogListening(ILogger logger, string source, string endpoint);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "Source {Source} closed idle connection from {Remote} after {Seconds} s without data")]
    private static partial void LogIdleClosed(ILogger logger, string source, string remote, double seconds);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Debug, Message = "Source {Source} connection ended: {Reason}")]
    private static partial void LogConnectionError(ILogger logger, string source, string reason);
}
