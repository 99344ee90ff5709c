using System.Diagnostics;
using Conveyor.Diagnostics;
using Polly;
using Polly.Retry;

namespace Conveyor;

/// <summary>
/// Workers that take batches from a buffer and run a handler on them, with retries for transient failures,
/// dead-letters for the rest, and a drain that reports what it could not finish. Build one with
/// <see cref="Stage"/>'s factory methods.
/// </summary>
/// <remarks>
/// <para>What holds: every item a worker takes is, exactly once, processed, dead-lettered or (after a drain
/// deadline) returned in <see cref="DrainResult{T}.Left"/>; so <c>Received = Processed + DeadLettered + InFlight + Left</c>.</para>
/// <para>A failing item never stops the stage: a permanent failure of a batch is bisected until the poison items
/// are alone, and only those are dead-lettered. Only a throwing dead-letter handler faults the stage.</para>
/// <para>Ordered hand-off (<see cref="StageOptions{T}.Ordered"/> with more than one worker): each batch gets a sequence
/// number under the same lock as its take, so numbers follow the input's order; workers handle batches in parallel,
/// and the step that passes a batch's results on (a transform's output write, the second delegate of the two-step
/// <see cref="Stage.ForEachBatch{T, TPrepared}"/>) waits, without polling, until every earlier batch has ended its
/// turn. A batch ends its turn exactly once, whatever becomes of it — handed on, dead-lettered, dropped by the next
/// buffer, cancelled at a drain deadline, or failed with the stage — when its worker is done with it, so no batch
/// can hold its successors back longer than its own handling takes. At most one hand-on per worker waits at once, so a
/// worker waiting for its turn takes no new batch: the reorder window is the worker count.</para>
/// </remarks>
/// <typeparam name="TIn">The input item type.</typeparam>
public class ConsumerStage<TIn> : IAsyncDisposable
{
    private readonly BufferReader<TIn> _input;
    private readonly StageOptions<TIn> _options;
    private readonly ResiliencePipeline _retry;
    private readonly CancellationTokenSource _stop;
    private readonly List<TIn>?[] _inFlight;
    private readonly Task?[] _workers;
    private readonly CancellationTokenSource?[] _retire;
    private readonly Lock _scaleLock = new();
    private ITimer? _scaler;
    private int _target;
    private int _idleTicks;
    private bool _scalingDone;
    private readonly TagList _tags;
    private readonly Lock _leftLock = new();
    private readonly List<TIn> _left = [];
    private Task _completion = Task.CompletedTask;

    private long _received;
    private long _processed;
    private long _deadLettered;
    private long _retries;
    private long _resubmitted;
    private long _leftCount;

    // Ordered hand-off (_ordered): the take lock numbers batches in take order; under _turnLock, _turn is the
    // number whose hand-on may run now, _endedEarly holds numbers above it already ended (they handed nothing on:
    // cancelled, or dead-lettered whole), _turnWaiters the hand-ons waiting for their number to come up.
    // Lingering batches (BatchLinger > 0) are taken under the lock too, ordered or not: workers that each waited for
    // their own batch would share the arrivals, so each batch filled at 1/N of the rate and the linger ended most of
    // them part-full. Taken one at a time, a batch fills as fast as items come, and the others wait holding nothing.
    private readonly SemaphoreSlim? _takeLock;
    private readonly bool _ordered;
    private readonly Lock _turnLock = new();
    private readonly HashSet<long> _endedEarly = [];
    private readonly Dictionary<long, TaskCompletionSource> _turnWaiters = [];
    private long _nextSequence;
    private long _turn;

    private protected ConsumerStage(BufferReader<TIn> input, StageOptions<TIn> options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _input = input;
        _options = options;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var most = options.MaxWorkers ?? options.Workers;
        _inFlight = new List<TIn>?[most];
        _workers = new Task?[most];
        _retire = new CancellationTokenSource?[most];
        _tags = new TagList { { MetricNames.TagStage, options.Name } };
        _retry = BuildRetry(options);

        // One worker takes and hands on in order by itself; an adaptive stage may grow past one, so it counts.
        _ordered = options.Ordered && most > 1;
        _takeLock = _ordered || (most > 1 && options.BatchLinger > TimeSpan.Zero) ? new SemaphoreSlim(1, 1) : null;
    }

    /// <summary>The stage's name.</summary>
    public string Name => _options.Name;

    /// <summary>
    /// Completes when the input is completed and drained and every worker has finished (or after a drain deadline).
    /// Faults if a dead-letter handler threw; cancelled if the token given at start fired.
    /// </summary>
    public Task Completion => _completion;

    /// <summary>The stage's counters.</summary>
    public StageStatistics GetStatistics()
    {
        long inFlight = 0;
        for (var i = 0; i < _inFlight.Length; i++)
        {
            inFlight += Volatile.Read(ref _inFlight[i])?.Count ?? 0;
        }

        return new StageStatistics
        {
            Received = Interlocked.Read(ref _received),
            Processed = Interlocked.Read(ref _processed),
            DeadLettered = Interlocked.Read(ref _deadLettered),
            Retries = Interlocked.Read(ref _retries),
            Resubmitted = Interlocked.Read(ref _resubmitted),
            Left = Interlocked.Read(ref _leftCount),
            InFlight = inFlight,
            Workers = Volatile.Read(ref _target),
        };
    }

    /// <summary>
    /// Waits until the stage has processed everything its input holds (call the input writer's <c>Complete</c>
    /// first: a drain does not stop intake by itself), for at most <paramref name="timeout"/>. When the time is up,
    /// the handlers are cancelled and every item not processed — in a handler or still queued — is returned as left.
    /// </summary>
    public async Task<DrainResult<TIn>> DrainAsync(TimeSpan timeout)
    {
        try
        {
            await _completion.WaitAsync(timeout, _options.TimeProvider).ConfigureAwait(false);
            return new DrainResult<TIn>(true, []);
        }
        catch (TimeoutException)
        {
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _completion.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        List<TIn> left;
        lock (_leftLock)
        {
            while (_input.TryRead(out var item))
            {
                _left.Add(item);
                _leftCount++;
            }

            left = [.. _left];
        }

        return new DrainResult<TIn>(false, left);
    }

    /// <summary>Cancels the workers at once, without draining; items not processed are counted as left.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _completion.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The completion's outcome was observable through Completion; disposal only has to stop the workers.
        }

        _stop.Dispose();
        GC.SuppressFinalize(this);
    }

    private protected void Start()
    {
        lock (_scaleLock)
        {
            // The target comes first: a worker leaves as soon as its number is not below it.
            Volatile.Write(ref _target, _options.Workers);
            for (var i = 0; i < _options.Workers; i++)
            {
                StartWorkerLocked(i);
            }
        }

        if (_options.MaxWorkers > _options.Workers)
        {
            _scaler = _options.TimeProvider.CreateTimer(static s => ((ConsumerStage<TIn>)s!).Scale(), this, _options.ScaleInterval, _options.ScaleInterval);
        }

        _completion = CompleteAsync();
    }

    private void StartWorkerLocked(int worker)
    {
        var retire = new CancellationTokenSource();
        _retire[worker]?.Dispose();
        _retire[worker] = retire;
        var token = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, retire.Token).Token;
        _workers[worker] = Task.Run(() => RunWorkerAsync(worker, token));
    }

    /// <summary>One look at the backlog: grow while more than a batch per worker waits, shrink after sustained idleness.</summary>
    private void Scale()
    {
        lock (_scaleLock)
        {
            if (_scalingDone || _stop.IsCancellationRequested || _input.Completion.IsCompleted)
            {
                return;
            }

            var backlog = (long)_input.Count;
            var live = _target;
            if (backlog > (long)_options.BatchMaxItems * live && live < _inFlight.Length && _workers[live] is not { IsCompleted: false })
            {
                Volatile.Write(ref _target, live + 1);
                StartWorkerLocked(live);
                _idleTicks = 0;
            }
            else if (backlog == 0 && live > _options.Workers)
            {
                if (++_idleTicks >= 3)
                {
                    // The highest-numbered worker retires; a wait it is in ends without taking items.
                    Volatile.Write(ref _target, live - 1);
                    _retire[live - 1]!.Cancel();
                    _idleTicks = 0;
                }
            }
            else
            {
                _idleTicks = 0;
            }
        }
    }

    /// <summary>Handles one batch: the handler proper. Transform stages also emit the results here.</summary>
    private protected virtual ValueTask HandleAsync(List<TIn> batch, long sequence, int worker, CancellationToken cancellationToken) => default;

    /// <summary>
    /// Called by a stage whose handler has finished with a batch but still has work to do with its results (a
    /// transform writing them on): the batch's items now count as processed, so they stop counting as in flight.
    /// If the stage is cancelled before it finishes, the batch is still reported as left.
    /// </summary>
    private protected void HandledBatch(int worker) => Volatile.Write(ref _inFlight[worker], null);

    /// <summary>Runs once the workers are done, with the input's error if it had one; transform stages complete their output.</summary>
    private protected virtual void OnWorkersDone(Exception? error)
    {
    }

    /// <summary>
    /// Waits until every batch taken before the one numbered <paramref name="sequence"/> has ended its turn; at once
    /// when the stage is not ordered or the turn is already this batch's (so a retried attempt may call it again).
    /// Cancelled by <paramref name="cancellationToken"/> (the drain deadline): the batch then ends its turn unhanded.
    /// </summary>
    internal ValueTask WaitTurnAsync(long sequence, CancellationToken cancellationToken)
    {
        if (!_ordered)
        {
            return default;
        }

        TaskCompletionSource? waiter;
        lock (_turnLock)
        {
            if (_turn == sequence)
            {
                return default;
            }

            if (!_turnWaiters.TryGetValue(sequence, out waiter))
            {
                // Completed outside the lock by the predecessor's EndTurn; continuations run on the pool, not there.
                waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _turnWaiters.Add(sequence, waiter);
            }

            AssertTurnInvariants();
        }

        return new ValueTask(waiter.Task.WaitAsync(cancellationToken));
    }

    /// <summary>
    /// Ends the turn of the batch numbered <paramref name="sequence"/>, once, when its worker is done with it. If it is
    /// the current turn, the turn moves past it and past every later batch that already ended, and wakes the hand-on
    /// waiting for the new turn; otherwise the batch ended before its turn came (cancelled, or nothing to hand on) and
    /// is remembered so the turn skips it.
    /// </summary>
    private void EndTurn(long sequence)
    {
        TaskCompletionSource? next;
        lock (_turnLock)
        {
            _turnWaiters.Remove(sequence);
            if (_turn != sequence)
            {
                _endedEarly.Add(sequence);
                AssertTurnInvariants();
                return;
            }

            _turn++;
            while (_endedEarly.Remove(_turn))
            {
                _turn++;
            }

            _turnWaiters.Remove(_turn, out next);
            AssertTurnInvariants();
        }

        // Outside the lock: the woken hand-on may take it at once.
        next?.TrySetResult();
    }

    [Conditional("DEBUG")]
    private void AssertTurnInvariants()
    {
        // Numbers ended early are all still ahead of the turn; a hand-on waits only for a number that was given and is
        // still ahead, one per worker at most.
        Debug.Assert(_turnWaiters.Count <= _workers.Length, "more hand-ons waiting than workers");
        Debug.Assert(_endedEarly.All(n => n > _turn), "an ended number at or below the turn");
        Debug.Assert(_turnWaiters.Keys.All(n => n > _turn && n < _nextSequence), "a hand-on waiting for a turn that passed or was never given");
    }

    /// <summary>
    /// Takes the next batch, under the take lock when there is one. Ordered, the take and its number are one step under
    /// it, so numbers follow the buffer's order; a worker waiting for the lock holds nothing, so cancelling it loses nothing.
    /// </summary>
    private async ValueTask<(int Count, long Sequence)> ReadAsync(List<TIn> batch, CancellationToken cancellationToken)
    {
        if (_takeLock is null)
        {
            var n = await _input.ReadBatchAsync(batch, _options.BatchMaxItems, _options.BatchMaxBytes, _options.BatchLinger, cancellationToken).ConfigureAwait(false);
            return (n, -1);
        }

        await _takeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var n = await _input.ReadBatchAsync(batch, _options.BatchMaxItems, _options.BatchMaxBytes, _options.BatchLinger, cancellationToken).ConfigureAwait(false);
            return (n, _ordered && n > 0 ? _nextSequence++ : -1);
        }
        finally
        {
            _takeLock.Release();
        }
    }

    private protected BufferReader<TIn> Input => _input;

    private protected StageOptions<TIn> Options => _options;

    private protected CancellationToken Stopping => _stop.Token;

    /// <summary>
    /// Runs <paramref name="attempt"/> under the retry policy; on final failure, bisects a permanently failing batch
    /// and dead-letters what still fails. <paramref name="attempt"/> must undo its partial effects when it throws.
    /// </summary>
    private protected async ValueTask ProcessAsync(List<TIn> batch, Func<List<TIn>, CancellationToken, ValueTask> attempt, CancellationToken cancellationToken)
    {
        var attempts = 0;
        try
        {
            await _retry.ExecuteAsync(
                async ct =>
                {
                    attempts++;
                    var started = _options.TimeProvider.GetTimestamp();
                    await attempt(batch, ct).ConfigureAwait(false);
                    ConveyorMeter.StageHandlerDuration.Record(_options.TimeProvider.GetElapsedTime(started).TotalSeconds, _tags);
                },
                cancellationToken).ConfigureAwait(false);
            Interlocked.Add(ref _processed, batch.Count);
            ConveyorMeter.StageProcessed.Add(batch.Count, _tags);
        }
        catch (Exception error) when (!(error is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            if (batch.Count > 1 && !_options.Retry.IsTransient(error))
            {
                // A permanent failure of a batch says nothing about which items are bad: halve until they are alone.
                // Both halves go to the handler again, and only the half that fails is split further: one poison item
                // in n costs n + n/2 + ... ~ 2n items handed again over log2(n) levels, k of them at most n * log2(n);
                // the good half of each level is written once more, never again. Counted, so a handler that refuses
                // whole batches for a reason no item causes (Resubmitted ~ Received * log2(n)) shows.
                Interlocked.Add(ref _resubmitted, batch.Count);
                ConveyorMeter.StageResubmitted.Add(batch.Count, _tags);
                var half = batch.Count / 2;
                await ProcessAsync(batch.GetRange(0, half), attempt, cancellationToken).ConfigureAwait(false);
                await ProcessAsync(batch.GetRange(half, batch.Count - half), attempt, cancellationToken).ConfigureAwait(false);
                return;
            }

            foreach (var item in batch)
            {
                await DeadLetterAsync(item, error, attempts, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async ValueTask DeadLetterAsync(TIn item, Exception error, int attempts, CancellationToken cancellationToken)
    {
        if (_options.DeadLetter is { } handler)
        {
            await handler(new DeadLetter<TIn>(item, error, attempts, _options.Name), cancellationToken).ConfigureAwait(false);
        }

        Interlocked.Increment(ref _deadLettered);
        ConveyorMeter.StageDeadLettered.Add(1, _tags);
    }

    private async Task RunWorkerAsync(int worker, CancellationToken token)
    {
        var batch = new List<TIn>(Math.Min(_options.BatchMaxItems, 4096));
        var stopping = _stop.Token;
        while (worker < Volatile.Read(ref _target))
        {
            batch.Clear();
            int count;
            long sequence;
            try
            {
                (count, sequence) = await ReadAsync(batch, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                // A cancelled read holds no items (the buffer returns what it took instead of throwing).
                return;
            }

            if (count == 0)
            {
                return;
            }

            Interlocked.Add(ref _received, count);
            ConveyorMeter.StageReceived.Add(count, _tags);
            if (_options.BatchMaxItems > 1)
            {
                ConveyorMeter.StageBatchSize.Record(count, _tags);
            }

            Volatile.Write(ref _inFlight[worker], batch);
            try
            {
                await HandleAsync(batch, sequence, worker, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                // Drain deadline or disposal: the whole batch is reported as left, none of it as processed.
                lock (_leftLock)
                {
                    _left.AddRange(batch);
                    _leftCount += batch.Count;
                }

                Volatile.Write(ref _inFlight[worker], null);
                return;
            }
            finally
            {
                // Whatever became of the batch (handed on, dead-lettered, left, or a dead-letter handler that faulted
                // the stage), its successors must not wait for it any longer.
                if (_ordered)
                {
                    EndTurn(sequence);
                }
            }

            Volatile.Write(ref _inFlight[worker], null);
        }
    }

    private async Task CompleteAsync()
    {
        Exception? workerError = null;
        while (true)
        {
            Task[] running;
            lock (_scaleLock)
            {
                running = [.. _workers.Where(static w => w is not null)!];
                if (running.All(static w => w.IsCompleted))
                {
                    // No worker left to add more: the scaler stops for good before the output completes.
                    _scalingDone = true;
                    break;
                }
            }

            try
            {
                await Task.WhenAll(running).ConfigureAwait(false);
            }
            catch (Exception)
            {
            }
        }

        if (_scaler is not null)
        {
            await _scaler.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var w in _workers)
        {
            if (w is { IsFaulted: true })
            {
                workerError ??= w.Exception!.InnerException;
            }
        }

        Exception? inputError = null;
        if (_input.Completion.IsFaulted)
        {
            inputError = _input.Completion.Exception?.InnerException;
        }

        OnWorkersDone(workerError ?? inputError);
        if (workerError is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(workerError);
        }

        if (inputError is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(inputError);
        }
    }

    private ResiliencePipeline BuildRetry(StageOptions<TIn> options)
    {
        var retry = options.Retry;
        if (retry.MaxAttempts <= 1)
        {
            return ResiliencePipeline.Empty;
        }

        return new ResiliencePipelineBuilder { TimeProvider = options.TimeProvider }
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = retry.MaxAttempts == int.MaxValue ? int.MaxValue : retry.MaxAttempts - 1,
                Delay = retry.BaseDelay,
                MaxDelay = retry.MaxDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = retry.UseJitter,
                DelayGenerator = retry.RetryAfter is { } asked
                    ? args => ValueTask.FromResult(args.Outcome.Exception is { } e && asked(e) is { } after
                        ? (TimeSpan?)(after < retry.MaxDelay ? after : retry.MaxDelay)
                        : null)
                    : null,
                ShouldHandle = args => ValueTask.FromResult(
                    args.Outcome.Exception is { } e
                    && !(e is OperationCanceledException && args.Context.CancellationToken.IsCancellationRequested)
                    && retry.IsTransient(e)),
                OnRetry = _ =>
                {
                    Interlocked.Increment(ref _retries);
                    ConveyorMeter.StageRetries.Add(1, _tags);
                    return default;
                },
            })
            .Build();
    }
}
