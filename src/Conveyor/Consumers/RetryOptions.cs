namespace Conveyor;

/// <summary>How a stage retries a handler that failed with a transient error before it dead-letters the items.</summary>
public sealed class RetryOptions
{
    /// <summary>
    /// Attempts in all, the first included (so 1 disables retries and N allows N - 1 retries), counted per batch:
    /// each half of a bisected batch starts again at 1. Default 3; <see cref="int.MaxValue"/> retries until cancelled.
    /// </summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>The delay before the first retry; it doubles on each further retry. Default 100 ms.</summary>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest delay between two attempts. Default 30 s.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Spread delays randomly (decorrelated jitter) so that many workers do not retry in step. Default true.</summary>
    public bool UseJitter { get; set; } = true;

    /// <summary>
    /// Whether an error is worth retrying. Default <see cref="IsTransientByDefault"/>: everything except
    /// <see cref="PermanentFailureException"/> and argument, format, cast and not-supported errors, which no retry fixes.
    /// A permanent error goes to the dead-letter handler at once.
    /// </summary>
    public Func<Exception, bool> IsTransient { get; set; } = IsTransientByDefault;

    /// <summary>
    /// How long an error asks to be left alone before the next attempt (an HTTP <c>Retry-After</c>, say), or null to
    /// use the back-off. A delay asked for is believed, up to <see cref="MaxDelay"/>. Default none: always the back-off.
    /// </summary>
    public Func<Exception, TimeSpan?>? RetryAfter { get; set; }

    /// <summary>The default <see cref="IsTransient"/>.</summary>
    public static bool IsTransientByDefault(Exception error) => error is not (PermanentFailureException
        or ArgumentException or FormatException or InvalidCastException or NotSupportedException);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting, prefixed with <paramref name="prefix"/>.</summary>
    public void Validate(string prefix = "Retry")
    {
        if (MaxAttempts < 1)
        {
            throw new ArgumentException($"{prefix}.{nameof(MaxAttempts)} must be at least 1 (was {MaxAttempts}).");
        }

        if (BaseDelay < TimeSpan.Zero || MaxDelay < BaseDelay)
        {
            throw new ArgumentException($"{prefix}.{nameof(BaseDelay)} must be >= 0 and <= {nameof(MaxDelay)} (were {BaseDelay} and {MaxDelay}).");
        }

        ArgumentNullException.ThrowIfNull(IsTransient, $"{prefix}.{nameof(IsTransient)}");
    }
}

/// <summary>Thrown by a handler to say that retrying cannot help: the items go to the dead-letter handler at once.</summary>
public sealed class PermanentFailureException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PermanentFailureException()
    {
    }

    /// <summary>Creates the exception with a reason.</summary>
    public PermanentFailureException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a reason and the error behind it.</summary>
    public PermanentFailureException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
