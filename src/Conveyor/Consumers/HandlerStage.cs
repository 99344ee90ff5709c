namespace Conveyor;

/// <summary>A stage that ends a flow: its handler consumes items (stores, sends) and produces nothing.</summary>
internal sealed class HandlerStage<T> : ConsumerStage<T>
{
    private readonly Func<List<T>, HandOnTurn<T>, CancellationToken, ValueTask> _attempt;
    private readonly bool _perItem;

    /// <param name="attempt">One try at a batch; a handler with a step that must run in take order awaits the turn before it.</param>
    public HandlerStage(BufferReader<T> input, Func<List<T>, HandOnTurn<T>, CancellationToken, ValueTask> attempt, bool perItem, StageOptions<T> options, CancellationToken cancellationToken)
        : base(input, options, cancellationToken)
    {
        _attempt = attempt;
        _perItem = perItem;
        Start();
    }

    private protected override async ValueTask HandleAsync(List<T> batch, long sequence, int worker, CancellationToken cancellationToken)
    {
        var turn = new HandOnTurn<T>(this, sequence);
        if (!_perItem || batch.Count == 1)
        {
            await ProcessAsync(batch, (items, ct) => _attempt(items, turn, ct), cancellationToken).ConfigureAwait(false);
            return;
        }

        // A per-item handler retries and dead-letters each item on its own, even when the stage reads in batches.
        var one = new List<T>(1) { default! };
        foreach (var item in batch)
        {
            one[0] = item;
            await ProcessAsync(one, (items, ct) => _attempt(items, turn, ct), cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>
/// A batch's place in its stage's hand-on order: <see cref="WaitAsync"/> returns once every batch taken before it has
/// ended its turn (at once when the stage is not ordered). The batch ends its own turn when its handler returns.
/// </summary>
internal readonly record struct HandOnTurn<T>(ConsumerStage<T> Stage, long Sequence)
{
    public ValueTask WaitAsync(CancellationToken cancellationToken) => Stage.WaitTurnAsync(Sequence, cancellationToken);
}
