namespace Conveyor.Logs.Sinks;

/// <summary>How <see cref="ResilientSink"/> retries transient failures. Call <see cref="Validate"/> after binding.</summary>
public sealed class ResilientSinkOptions
{
    /// <summary>Retries of one batch after a transient failure before it counts as failed. Default 60.</summary>
    public int MaxRetryAttempts { get; set; } = 60;

    /// <summary>The first retry delay; later delays grow exponentially with jitter. Default 200 ms.</summary>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest delay between two attempts. Default 5 s (so 60 attempts cover a few minutes of outage).</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>While writes keep failing, the shortest time between two warnings (each says how many attempts failed meanwhile). Default 10 s.</summary>
    public TimeSpan WarningInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Throws <see cref="ArgumentException"/> naming the key of the first invalid option.</summary>
    public ResilientSinkOptions Validate()
    {
        if (MaxRetryAttempts is < 0 or > 1_000_000)
        {
            throw new ArgumentException($"{nameof(MaxRetryAttempts)} must be 0..1000000 (was {MaxRetryAttempts}).", nameof(MaxRetryAttempts));
        }

        if (BaseDelay <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(BaseDelay)} must be positive (was {BaseDelay}).", nameof(BaseDelay));
        }

        if (MaxDelay < BaseDelay)
        {
            throw new ArgumentException($"{nameof(MaxDelay)} must be at least {nameof(BaseDelay)} (was {MaxDelay}).", nameof(MaxDelay));
        }

        if (WarningInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(WarningInterval)} must be positive (was {WarningInterval}).", nameof(WarningInterval));
        }

        return this;
    }
}
