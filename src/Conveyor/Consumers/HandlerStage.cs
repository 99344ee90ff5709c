namespace Conveyor;

/// <summary>A stage that ends a flow: its handler consumes items (stores, sends) and produces nothing.</summary>
internal sealed class HandlerStage<T> : ConsumerStage<T>
{
    private readonly Func<List<T>, CancellationToken, ValueTask> _attempt;
    private readonly bool _perItem;

    public HandlerStage(BufferReader<T> input, Func<List<T>, CancellationToken, ValueTask> attempt, bool perItem, StageOptions<T> options, CancellationToken cancellationToken)
        : base(input, options, cancellationToken)
    {
        _attempt = attempt;
        _perItem = perItem;
        Start();
    }

    private protected override async ValueTask HandleAsync(List<T> batch, long sequence, int worker, CancellationToken cancellationToken)
    {
        if (!_perItem || batch.Count == 1)
        {
            await ProcessAsync(batch, _attempt, cancellationToken).ConfigureAwait(false);
            return;
        }

        // A per-item handler retries and dead-letters each item on its own, even when the stage reads in batches.
        var one = new List<T>(1) { default! };
        foreach (var item in batch)
        {
            one[0] = item;
            await ProcessAsync(one, _attempt, cancellationToken).ConfigureAwait(false);
        }
    }
}
