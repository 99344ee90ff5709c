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
    private readonly bool _ordered;
    private readonly SemaphoreSlim? _readLock;
    private readonly SemaphoreSlim? _window;
    private readonly SemaphoreSlim? _emitLock;
    private readonly Dictionary<long, List<TOut>>? _pending;
    private long _nextSequence;
    private long _nextEmit;

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
        _ordered = options.Ordered && (options.MaxWorkers ?? options.Workers) > 1;
        if (_ordered)
        {
            _readLock = new SemaphoreSlim(1, 1);
            _emitLock = new SemaphoreSlim(1, 1);
            var most = options.MaxWorkers ?? options.Workers;
            _window = new SemaphoreSlim(most * 2, most * 2);
            _pending = [];
        }

        Start();
    }

    /// <summary>Where results go.</summary>
    public BufferWriter<TOut> Output { get; }

    private protected override async ValueTask<(int Count, long Sequence)> ReadAsync(List<TIn> batch, CancellationToken cancellationToken)
    {
        if (!_ordered)
        {
            return await base.ReadAsync(batch, cancellationToken).ConfigureAwait(false);
        }

        // The window bounds how far finished batches may run ahead of the one the output waits for.
        await _window!.WaitAsync(cancellationToken).ConfigureAwait(false);
        var taken = false;
        try
        {
            await _readLock!.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var (count, _) = await base.ReadAsync(batch, cancellationToken).ConfigureAwait(false);
                taken = count > 0;
                return (count, taken ? _nextSequence++ : -1);
            }
            finally
            {
                _readLock.Release();
            }
        }
        finally
        {
            if (!taken)
            {
                _window.Release();
            }
        }
    }

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

        // The batch is processed; what remains is writing its results on, which may wait on the output's back-pressure.
        HandledBatch(worker);
        if (!_ordered)
        {
            await EmitAsync(results, cancellationToken).ConfigureAwait(false);
            return;
        }

        lock (_pending!)
        {
            _pending.Add(sequence, results);
        }

        await _emitLock!.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            while (true)
            {
                List<TOut>? ready;
                lock (_pending)
                {
                    if (!_pending.Remove(_nextEmit, out ready))
                    {
                        break;
                    }

                    _nextEmit++;
                }

                await EmitAsync(ready, cancellationToken).ConfigureAwait(false);
                _window!.Release();
            }
        }
        finally
        {
            _emitLock.Release();
        }
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
