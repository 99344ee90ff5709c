namespace Conveyor.Logs.Sinks;

/// <summary>
/// A sink write that failed. <see cref="IsTransient"/> tells the caller whether to retry the same batch (the store
/// was unreachable, overloaded, or lost a deadlock) or to give up on it (the data itself is refused, e.g. a NUL byte
/// PostgreSQL will not store, or an event larger than the sink allows).
/// </summary>
public sealed class SinkException : Exception
{
    public SinkException()
    {
    }

    public SinkException(string message)
        : base(message)
    {
    }

    public SinkException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates a failure classified as transient or permanent.</summary>
    public SinkException(string message, bool isTransient, Exception? innerException = null)
        : base(message, innerException)
    {
        IsTransient = isTransient;
    }

    /// <summary>True when the same write may succeed later; false when the data is refused (poison).</summary>
    public bool IsTransient { get; }

    /// <summary>
    /// How long the store asked to be left alone before the next attempt (HTTP <c>Retry-After</c>); null when it did
    /// not say. The sink lane's retry waits this long instead of its back-off, at most <c>MaxDelay</c>
    /// (<see cref="ResilientSink.RetryAfter"/>).
    /// </summary>
    public TimeSpan? RetryAfter { get; init; }
}
