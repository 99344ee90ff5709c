namespace Conveyor;

/// <summary>
/// A stage whose handler turns input items into output items written to the next buffer, optionally keeping
/// output in input order across parallel workers. When the input is completed and drained, the output is completed
/// (with the input's error, if it had one), so completion flows down a pipeline.
/// </summary>
/// <typeparam name="TIn">The input item type.</typeparam>
/// <typeparam name="TOut">The output item type.</typeparam>
public sealed class TransformStage<TIn, TOut> : ConsumerStage<TIn>
{
    private readonly Func<IReadOnlyList<TIn>, List<TOut>, CancellationToken, ValueTask> _transform;
    private readonly bool _completeOutput;

    internal TransformStage(
        BufferReader<TIn> input,
        Func<IReadOnlyList<TIn>, List<TOut>, CancellationToken, ValueTask> transform,
        BufferWriter<TOut> output,
        bool completeOutput,
        StageOptions<TIn> options,
        CancellationToken cancellationToken)
        : base(input, options, cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transform);
        ArgumentNullException.ThrowIfNull(output);
        _transform = transform;
        Output = output;
        _completeOutput = completeOutput;
        Start();
    }

    /// <summary>Where results go.</summary>
    public BufferWriter<TOut> Output { get; }

    private protected override async ValueTask HandleAsync(List<TIn> batch, long sequence, int worker, CancellationToken cancellationToken)
    {
        var results = new List<TOut>(batch.Count);
        await ProcessAsync(
            batch,
            async (items, ct) =>
            {
                var mark = results.Count;
                try
                {
                    await _transform(items, results, ct).ConfigureAwait(false);
                }
                catch
                {
                    // A failed attempt's partial output must not be emitted: the retry will produce it again.
                    results.RemoveRange(mark, results.Count - mark);
                    throw;
                }
            },
            cancellationToken).ConfigureAwait(false);

        // The batch is processed; what remains is writing its results on, which may wait on the output's back-pressure
        // and, ordered, for the batches taken before it to be written first (the core stage's turn).
        HandledBatch(worker);
        await WaitTurnAsync(sequence, cancellationToken).ConfigureAwait(false);
        await EmitAsync(results, cancellationToken).ConfigureAwait(false);
    }

    private protected override void OnWorkersDone(Exception? error)
    {
        if (_completeOutput)
        {
            Output.Complete(error);
        }
    }

    private async ValueTask EmitAsync(List<TOut> results, CancellationToken cancellationToken)
    {
        // A false result means the output's own policy dropped the item; the output buffer counted and reported it.
        foreach (var result in results)
        {
            await Output.WriteAsync(result, cancellationToken).ConfigureAwait(false);
        }
    }
}
