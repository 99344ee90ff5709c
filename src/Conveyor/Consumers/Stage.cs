namespace Conveyor;

/// <summary>Starts consumer stages. Each method validates the options and starts the workers at once.</summary>
public static class Stage
{
    /// <summary>Runs <paramref name="handler"/> on each item of <paramref name="input"/>; each item is retried and dead-lettered on its own.</summary>
    public static ConsumerStage<T> ForEach<T>(
        BufferReader<T> input,
        Func<T, CancellationToken, ValueTask> handler,
        StageOptions<T>? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return new HandlerStage<T>(input, (batch, _, ct) => handler(batch[0], ct), perItem: true, options ?? new StageOptions<T>(), cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="handler"/> on batches of <paramref name="input"/>, formed by the options' batch limits.
    /// A batch that fails permanently is halved until the failing items are alone; only those are dead-lettered.
    /// </summary>
    public static ConsumerStage<T> ForEachBatch<T>(
        BufferReader<T> input,
        Func<IReadOnlyList<T>, CancellationToken, ValueTask> handler,
        StageOptions<T>? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return new HandlerStage<T>(input, (batch, _, ct) => handler(batch, ct), perItem: false, options ?? new StageOptions<T>(), cancellationToken);
    }

    /// <summary>
    /// Runs a batch handler in two steps: <paramref name="prepare"/> on batches of <paramref name="input"/> in parallel
    /// across the workers, then <paramref name="handOn"/> with its result. With <see cref="StageOptions{T}.Ordered"/>,
    /// <paramref name="handOn"/> runs for one batch at a time in the order the batches were taken (like TPL Dataflow's
    /// <c>EnsureOrdered</c>): a worker whose batch is ready waits, without polling, for the batches taken before it.
    /// </summary>
    /// <remarks>
    /// The two steps are one attempt for retries, bisection and dead-letters: a failure in either retries both, so
    /// <paramref name="handOn"/> must undo its partial effects when it throws. A batch dead-lettered whole hands
    /// nothing on and lets the batches after it go on at once; its dead letters are not ordered with the hand-ons.
    /// </remarks>
    /// <typeparam name="T">The input item type.</typeparam>
    /// <typeparam name="TPrepared">What <paramref name="prepare"/> makes of a batch.</typeparam>
    public static ConsumerStage<T> ForEachBatch<T, TPrepared>(
        BufferReader<T> input,
        Func<IReadOnlyList<T>, CancellationToken, ValueTask<TPrepared>> prepare,
        Func<TPrepared, CancellationToken, ValueTask> handOn,
        StageOptions<T>? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prepare);
        ArgumentNullException.ThrowIfNull(handOn);
        return new HandlerStage<T>(
            input,
            async (batch, turn, ct) =>
            {
                var prepared = await prepare(batch, ct).ConfigureAwait(false);
                await turn.WaitAsync(ct).ConfigureAwait(false);
                await handOn(prepared, ct).ConfigureAwait(false);
            },
            perItem: false,
            options ?? new StageOptions<T>(),
            cancellationToken);
    }

    /// <summary>Turns each item of <paramref name="input"/> into one item written to <paramref name="output"/>.</summary>
    /// <param name="completeOutput">Complete <paramref name="output"/> when this stage is done. Default true; false when several stages share one output.</param>
    public static TransformStage<TIn, TOut> Transform<TIn, TOut>(
        BufferReader<TIn> input,
        Func<TIn, CancellationToken, ValueTask<TOut>> transform,
        BufferWriter<TOut> output,
        StageOptions<TIn>? options = null,
        bool completeOutput = true,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transform);
        return new TransformStage<TIn, TOut>(
            input,
            async (batch, results, ct) =>
            {
                foreach (var item in batch)
                {
                    results.Add(await transform(item, ct).ConfigureAwait(false));
                }
            },
            output,
            completeOutput,
            options ?? new StageOptions<TIn>(),
            cancellationToken);
    }

    /// <summary>
    /// Turns batches of <paramref name="input"/> into any number of items each, added to the list the handler gets
    /// and written to <paramref name="output"/> in order.
    /// </summary>
    /// <param name="completeOutput">Complete <paramref name="output"/> when this stage is done. Default true.</param>
    public static TransformStage<TIn, TOut> TransformBatch<TIn, TOut>(
        BufferReader<TIn> input,
        Func<IReadOnlyList<TIn>, List<TOut>, CancellationToken, ValueTask> transform,
        BufferWriter<TOut> output,
        StageOptions<TIn>? options = null,
        bool completeOutput = true,
        CancellationToken cancellationToken = default) =>
        new(input, transform, output, completeOutput, options ?? new StageOptions<TIn>(), cancellationToken);
}
