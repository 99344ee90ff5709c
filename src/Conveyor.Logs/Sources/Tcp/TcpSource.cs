using Conveyor.Logs.Pipeline;
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
/// <remarks>
/// <para>At most <see cref="SourceOptions.MaxConnections"/> connections are served. A new connection at the limit
/// closes the one that has been idle longest (no bytes since its last read), so idle connections can never lock real
/// clients out; a connection whose lines wait for room in the buffer is busy, not idle, and is never closed for
/// another, so when every connection is busy the new one is refused. Both are counted
/// (<see cref="SourceInfo.ConnectionsEvicted"/>, <see cref="SourceInfo.ConnectionsRefused"/>).</para>
/// <para>On stop the listener closes first; open connections are read on until their sender ends, nothing arrives
/// for <see cref="StopLinger"/>, or the read-on deadline passes (<see cref="LogSource.ReadOnEnded"/>: the service
/// gives reading on half the drain deadline, so what was admitted can still be stored in the other half), so lines
/// already written into a connection are stored. A sender still writing then sees its connection close.</para>
/// <para>Ids are <c>source:accept-epoch-ms:connection#:line#</c>.</para>
/// </remarks>
public sealed partial class TcpSource : LogSource
{
    /// <summary>After a stop, how long an open connection may stay quiet before it is closed: 1 s.</summary>
    public static readonly TimeSpan StopLinger = TimeSpan.FromSeconds(1);

    /// <summary>The connections served now, by number; guarded by <see cref="_connectionsLock"/>.</summary>
    private readonly Dictionary<long, Connection> _connections = [];
    private readonly Lock _connectionsLock = new();
    private readonly RateLimitedLog _faults;
    private readonly RateLimitedLog _evictions;
    private TcpListener? _listener;
    private long _connectionCount;

    /// <summary>Creates the source; <see cref="LogSource.StartAsync"/> binds it.</summary>
    public TcpSource(SourceOptions options, SourceInfo info, LineIntake output, ILogger logger, TimeProvider time)
        : base(options, info, output, logger, time)
    {
        _faults = new RateLimitedLog(logger, info.Name, "client fault", time);
        _evictions = new RateLimitedLog(logger, info.Name, "connection closed at the limit", time);
    }

    /// <summary>The bound endpoint (useful with port 0).</summary>
    public IPEndPoint? LocalEndpoint => _listener?.LocalEndpoint as IPEndPoint;

    /// <summary>Connections open now.</summary>
    public int OpenConnections
    {
        get
        {
            lock (_connectionsLock)
            {
                return _connections.Count;
            }
        }
    }

    /// <inheritdoc />
    protected override Task BindAsync(CancellationToken cancellationToken)
    {
        var address = string.Equals(Options.Host, "localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback : IPAddress.Parse(Options.Host);
        _listener = new TcpListener(address, Options.Port);
        _listener.Start(backlog: 512);
        LogListening(Logger, Info.Name, _listener.LocalEndpoint.ToString() ?? string.Empty, Options.MaxConnections);
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
                var socket = await listener.AcceptSocketAsync(StopReading).ConfigureAwait(false);
                var number = Interlocked.Increment(ref _connectionCount);
                var connection = new Connection(socket, Time.GetTimestamp());
                if (!Admit(number, connection))
                {
                    continue;
                }

                connection.Serving = Task.Run(() => ServeAsync(number, connection), CancellationToken.None);
            }
        }
        catch (Exception) when (StopReading.IsCancellationRequested)
        {
        }

        Task[] open;
        lock (_connectionsLock)
        {
            open = [.. _connections.Values.Select(static c => c.Serving)];
        }

        await Task.WhenAll(open).ConfigureAwait(false);
    }

    /// <summary>Registers a new connection; at the limit closes the longest-idle one for it, or refuses it.</summary>
    private bool Admit(long number, Connection connection)
    {
        Connection? evicted = null;
        lock (_connectionsLock)
        {
            if (_connections.Count >= Options.MaxConnections)
            {
                var idlest = _connections.Values.Where(static c => Volatile.Read(ref c.Busy) == 0).MinBy(static c => Volatile.Read(ref c.LastActivity));
                if (idlest is null)
                {
                    _evictions.Warn(connection.Remote, $"refused: all {Options.MaxConnections} connections (maxConnections) are busy");
                    Info.OnConnectionRefused();
                    Close(connection.Socket);
                    return false;
                }

                // The victim leaves the table now (so the count stays at the limit); its serving task ends on the closed socket.
                evicted = idlest;
                _connections.Remove(evicted.Number);
            }

            connection.Number = number;
            _connections[number] = connection;
        }

        if (evicted is not null)
        {
            Info.OnConnectionEvicted();
            evicted.Evicted = true;
            _evictions.Warn(evicted.Remote, string.Create(CultureInfo.InvariantCulture, $"closed after {Time.GetElapsedTime(Volatile.Read(ref evicted.LastActivity)).TotalSeconds:F1} s idle to admit a new connection at the limit of {Options.MaxConnections} (maxConnections)"));
            Close(evicted.Socket);
        }

        return true;
    }

    /// <summary>Closes with a FIN (the peer reads an orderly end), not the reset a bare dispose of a socket being read can send.</summary>
    private static void Close(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }

        socket.Dispose();
    }

    private async Task ServeAsync(long number, Connection connection)
    {
        var socket = connection.Socket;
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
                    // One string per line: the number is formatted into the id, not into a string of its own first.
                    IdFor = (line, _) => string.Create(CultureInfo.InvariantCulture, $"{prefix}{line}"),
                    Time = Time,
                    MaxFrameBytes = Options.MaxLineBytes,
                    IdleTimeout = Options.IdleTimeout,
                    DrainIdle = StopLinger,
                    ReadOnEnded = ReadOnEnded,
                    OnData = () => Volatile.Write(ref connection.Busy, 1),
                    OnCommitted = _ =>
                    {
                        Volatile.Write(ref connection.LastActivity, Time.GetTimestamp());
                        Volatile.Write(ref connection.Busy, 0);
                    },
                };
                var end = await pump.RunAsync(reader, StopReading, Abandon).ConfigureAwait(false);
                await reader.CompleteAsync().ConfigureAwait(false);
                if (end == StreamEnd.Idle)
                {
                    LogIdleClosed(Logger, Info.Name, connection.Remote, Options.IdleTimeout.TotalSeconds);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            // A reset or a socket closed under us (evicted at the limit): the client's fault or our policy, never a stack trace.
            if (!connection.Evicted)
            {
                Info.OnClientFault();
                _faults.Warn(connection.Remote, ex.InnerException?.Message ?? ex.Message);
            }
        }
        finally
        {
            lock (_connectionsLock)
            {
                _connections.Remove(number);
            }
        }
    }

    /// <summary>
    /// A connection being served: <see cref="LastActivity"/> is the timestamp of its last read's end (or its accept);
    /// <see cref="Busy"/> is 1 from a read that returned bytes until its lines are in the buffer.
    /// </summary>
    private sealed class Connection(Socket socket, long accepted)
    {
        public readonly Socket Socket = socket;
        public readonly string Remote = socket.RemoteEndPoint?.ToString() ?? "?";
        public long LastActivity = accepted;
        public int Busy;

        public long Number { get; set; }

        public Task Serving { get; set; } = Task.CompletedTask;

        public bool Evicted { get; set; }
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Source {Source} listening on tcp://{Endpoint} (at most {MaxConnections} connections)")]
    private static partial void LogListening(ILogger logger, string source, string endpoint, int maxConnections);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "Source {Source} closed idle connection from {Remote} after {Seconds} s without data")]
    private static partial void LogIdleClosed(ILogger logger, string source, string remote, double seconds);

}
