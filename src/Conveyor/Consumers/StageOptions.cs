namespace Conveyor;

/// <summary>Settings of a consumer stage. Validated by <see cref="Validate"/> when the stage starts.</summary>
/// <typeparam name="T">The stage's input item type.</typeparam>
public sealed class StageOptions<T>
{
    /// <summary>The name used as the <c>stage</c> tag of metrics and in dead letters. Default <c>"stage"</c>.</summary>
    public string Name { get; set; } = "stage";

    /// <summary>Workers running the handler in parallel; with <see cref="MaxWorkers"/>, the fewest. Default 1.</summary>
    public int Workers { get; set; } = 1;

    /// <summary>
    /// When set above <see cref="Workers"/>, the stage adapts: every <see cref="ScaleInterval"/> it adds a worker
    /// while more than a batch per worker is waiting, and retires one after three intervals with nothing queued,
    /// never going below <see cref="Workers"/> or above this. Default <c>null</c>: a fixed <see cref="Workers"/>.
    /// </summary>
    public int? MaxWorkers { get; set; }

    /// <summary>How often an adaptive stage looks at its backlog. Default 1 s.</summary>
    public TimeSpan ScaleInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Hand batches on in the order they were taken, even with several workers: a transform writes its output in input
    /// order, a two-step <see cref="Stage.ForEachBatch{T, TPrepared}"/> runs its hand-on step in take order. Default
    /// false. The reorder window is one batch per worker: a worker whose batch is ready waits (no polling) for the
    /// batches taken before it, so a slow batch holds back the hand-ons behind it, never longer than it takes itself.
    /// No effect with one worker, whose order is the take order already.
    /// </summary>
    public bool Ordered { get; set; }

    /// <summary>Most items handed to a batch handler at once. Default 1 (per-item handlers always get 1).</summary>
    public int BatchMaxItems { get; set; } = 1;

    /// <summary>Most bytes (as the input buffer measures them) per batch; a single larger item still forms a batch. Default unbounded.</summary>
    public long BatchMaxBytes { get; set; } = long.MaxValue;

    /// <summary>How long a batch waits for more items after its first, before it is handed over partial. Default zero.</summary>
    public TimeSpan BatchLinger { get; set; } = TimeSpan.Zero;

    /// <summary>Retries for transient handler failures. Default 3 attempts, 100 ms doubling, jitter.</summary>
    public RetryOptions Retry { get; set; } = new();

    /// <summary>
    /// Receives every item the handler could not process (after retries, or at once for a permanent error), with
    /// the error. Default none: such items are still counted as dead-lettered in the stage's statistics and metrics.
    /// If this handler itself throws, the stage faults: a dead-letter store that cannot store is not ignored.
    /// </summary>
    public Func<DeadLetter<T>, CancellationToken, ValueTask>? DeadLetter { get; set; }

    /// <summary>The clock for retry delays, linger and handler latency. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Name))
        {
            throw new ArgumentException($"{nameof(Name)} must not be empty.", nameof(Name));
        }

        if (Workers < 1)
        {
            throw new ArgumentException($"{nameof(Workers)} must be at least 1 (was {Workers}).", nameof(Workers));
        }

        if (MaxWorkers is { } max && max < Workers)
        {
            throw new ArgumentException($"{nameof(MaxWorkers)} must be at least {nameof(Workers)} ({Workers}) when set (was {max}).", nameof(MaxWorkers));
        }

        if (ScaleInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(ScaleInterval)} must be positive (was {ScaleInterval}).", nameof(ScaleInterval));
        }

        if (BatchMaxItems < 1)
        {
            throw new ArgumentException($"{nameof(BatchMaxItems)} must be at least 1 (was {BatchMaxItems}).", nameof(BatchMaxItems));
        }

        if (BatchMaxBytes < 1)
        {
            throw new ArgumentException($"{nameof(BatchMaxBytes)} must be at least 1 (was {BatchMaxBytes}).", nameof(BatchMaxBytes));
        }

        if (BatchLinger < TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(BatchLinger)} must not be negative (was {BatchLinger}).", nameof(BatchLinger));
        }

        ArgumentNullException.ThrowIfNull(Retry, nameof(Retry));
        Retry.Validate(nameof(Retry));
        ArgumentNullException.ThrowIfNull(TimeProvider, nameof(TimeProvider));
    }
}

/// <summary>An item a stage gave up on, with why.</summary>
/// <param name="Item">The item.</param>
/// <param name="Error">The last error.</param>
/// <param name="Attempts">How many times the handler was tried.</param>
/// <param name="Stage">The stage's name.</param>
public sealed record DeadLetter<T>(T Item, Exception Error, int Attempts, string Stage);

/// <summary>Counters of a stage, consistent with each other at the moment they are read.</summary>
public readonly record struct StageStatistics
{
    /// <summary>Items taken from the input.</summary>
    public long Received { get; init; }

    /// <summary>Items the handler finished.</summary>
    public long Processed { get; init; }

    /// <summary>Items sent to the dead-letter handler.</summary>
    public long DeadLettered { get; init; }

    /// <summary>Handler attempts that were retried.</summary>
    public long Retries { get; init; }

    /// <summary>
    /// Items handed to the handler again because their batch failed permanently and was halved (bisection): the
    /// sum over every split of the split batch's size. Near zero when poison is rare; near <see cref="Received"/> times
    /// log2 of the batch size when a handler refuses every batch for a reason no single item causes.
    /// </summary>
    public long Resubmitted { get; init; }

    /// <summary>Items taken and not yet finished (processed, dead-lettered or left at a drain deadline).</summary>
    public long InFlight { get; init; }

    /// <summary>Items left unprocessed when a drain deadline passed.</summary>
    public long Left { get; init; }

    /// <summary>Workers running.</summary>
    public int Workers { get; init; }
}

/// <summary>What a drain achieved by its deadline.</summary>
/// <param name="Completed">True when everything queued was processed before the deadline.</param>
/// <param name="Left">The items that were not processed: still queued, or in a handler when the deadline passed.</param>
public sealed record DrainResult<T>(bool Completed, IReadOnlyList<T> Left);
