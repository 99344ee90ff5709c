using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Conveyor.Logs.Diagnostics;
using Conveyor.Logs.Parsing;

namespace Conveyor.Logs.Model;

/// <summary>
/// A source as the rest of the pipeline sees it: its name, its parser and its counters. One instance per source,
/// shared by every connection of that source.
/// </summary>
public sealed class SourceInfo
{
    private long _received;
    private long _admitted;
    private long _refused;
    private long _dropped;
    private long _pending;
    private long _clientFaults;
    private long _connectionsEvicted;
    private long _connectionsRefused;
    private long _bodiesRefused;

    // One counter per format, created on first use; parse workers then only increment it (no lock, no allocation).
    private readonly ConcurrentDictionary<string, StrongBox<long>> _formats = new(StringComparer.Ordinal);

    /// <summary>Creates the record of a source named <paramref name="name"/> whose lines <paramref name="parser"/> reads.</summary>
    public SourceInfo(string name, string kind, ILogParser parser)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(parser);
        Name = name;
        Kind = kind;
        Parser = parser;
    }

    /// <summary>The source's name: the <c>source</c> of its events and the prefix of their ids.</summary>
    public string Name { get; }

    /// <summary>The kind of source (<c>http</c>, <c>tcp</c>, <c>syslog-udp</c>…).</summary>
    public string Kind { get; }

    /// <summary>Parses this source's lines.</summary>
    public ILogParser Parser { get; }

    /// <summary>The source's connection to a remote service (a broker), shown by <c>/api/pipeline</c> and <c>/ready</c>; null for listeners.</summary>
    public ILinkStatusSource? Link { get; set; }

    /// <summary>Records the source took off the wire (or out of a file).</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Records written into the main buffer.</summary>
    public long Admitted => Interlocked.Read(ref _admitted);

    /// <summary>Records refused back to a sender that was told so (HTTP 429/503): the sender still has them.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Records lost with no one told: a full buffer under a dropping policy, or UDP with no room.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Records received and not yet admitted, refused or dropped: waiting for room.</summary>
    public long Pending => Interlocked.Read(ref _pending);

    /// <summary>
    /// Events parsed from this source's records, per format that read them (<see cref="ParseOutcome.Format"/>: under
    /// <c>auto</c> e.g. <c>combined</c>, <c>json</c>, <c>plain</c>), as a snapshot.
    /// </summary>
    public IReadOnlyDictionary<string, long> ParsedByFormat =>
        new SortedDictionary<string, long>(_formats.ToDictionary(static f => f.Key, static f => Interlocked.Read(ref f.Value.Value)), StringComparer.Ordinal);

    /// <summary>Counts <paramref name="count"/> events (default one) parsed from this source by <paramref name="format"/>.</summary>
    public void OnParsed(string format, long count = 1)
    {
        ArgumentNullException.ThrowIfNull(format);
        Interlocked.Add(ref _formats.GetOrAdd(format, static _ => new StrongBox<long>()).Value, count);
    }

    /// <summary>Faults a client caused: a malformed request or frame, a connection reset, a body sent too slowly.</summary>
    public long ClientFaults => Interlocked.Read(ref _clientFaults);

    /// <summary>TCP: idle connections closed to admit a new one at the connection limit.</summary>
    public long ConnectionsEvicted => Interlocked.Read(ref _connectionsEvicted);

    /// <summary>TCP: new connections refused at the limit because no open one was idle.</summary>
    public long ConnectionsRefused => Interlocked.Read(ref _connectionsRefused);

    /// <summary>HTTP: request bodies refused unread (429) because the bytes of bodies in flight were at their budget.</summary>
    public long BodiesRefused => Interlocked.Read(ref _bodiesRefused);

    /// <summary>Counts one fault a client caused.</summary>
    public void OnClientFault() => Interlocked.Increment(ref _clientFaults);

    /// <summary>Counts one idle connection closed at the limit.</summary>
    public void OnConnectionEvicted() => Interlocked.Increment(ref _connectionsEvicted);

    /// <summary>Counts one connection refused at the limit.</summary>
    public void OnConnectionRefused() => Interlocked.Increment(ref _connectionsRefused);

    /// <summary>Counts one request body refused over the in-flight budget.</summary>
    public void OnBodyRefused() => Interlocked.Increment(ref _bodiesRefused);

    /// <summary>Counts <paramref name="n"/> records received and now waiting for an outcome.</summary>
    public void OnReceived(long n)
    {
        Interlocked.Add(ref _pending, n);
        Interlocked.Add(ref _received, n);
    }

    /// <summary>Counts <paramref name="n"/> received records admitted to the main buffer.</summary>
    public void OnAdmitted(long n)
    {
        Interlocked.Add(ref _admitted, n);
        Interlocked.Add(ref _pending, -n);
    }

    /// <summary>Counts <paramref name="n"/> received records refused to a sender who was told.</summary>
    public void OnRefused(long n)
    {
        Interlocked.Add(ref _refused, n);
        Interlocked.Add(ref _pending, -n);
    }

    /// <summary>Counts <paramref name="n"/> received records dropped.</summary>
    public void OnDropped(long n)
    {
        Interlocked.Add(ref _dropped, n);
        Interlocked.Add(ref _pending, -n);
    }
}
