namespace Conveyor.Logs.Diagnostics;

/// <summary>
/// The state of a source's or sink's connection to a remote service (a message broker), as <c>/api/pipeline</c> and
/// <c>/ready</c> show it.
/// </summary>
/// <param name="State"><c>connecting</c>, <c>connected</c>, <c>blocked</c> (the broker refuses publishes for now, e.g.
/// a memory or disk alarm), <c>reconnecting</c> or <c>closed</c>.</param>
/// <param name="Remote">The remote address, without its password.</param>
/// <param name="Unconfirmed">Messages published and not yet confirmed (sinks), or delivered and not yet acknowledged (sources).</param>
/// <param name="Window">The most there may be: the unconfirmed window of a sink, the prefetch of a source.</param>
/// <param name="Reconnects">Times the link was re-established after a loss.</param>
/// <param name="LastError">Why the link was last lost; null when it never was.</param>
public sealed record LinkStatus(string State, string Remote, long Unconfirmed, long Window, long Reconnects, string? LastError)
{
    /// <summary>True when the link carries data now (connected, not blocked).</summary>
    public bool IsUp => State == "connected";
}

/// <summary>A component with a connection worth showing; the pipeline snapshot and readiness ask it.</summary>
public interface ILinkStatusSource
{
    /// <summary>The link's state now; cheap, never throws.</summary>
    LinkStatus GetLinkStatus();
}
