namespace Conveyor.Logs.Sinks;

/// <summary>
/// Searches of a store go before its writes: a search holds a <see cref="Scope"/> while it reads, and the sink's
/// preparations and writes about to start wait while one is held (<see cref="WaitAsync"/>), so on a machine the writer
/// keeps busy the search gets the cores instead of sharing them with it.
/// </summary>
/// <remarks>
/// <para><b>Why.</b> A search reads on one thread, a writer at full rate keeps every core busy (its appends, the
/// preparations, the parse workers upstream), and the scheduler shares the cores evenly among them: measured on 2
/// cores, a field filter over 3M rows took 15 ms beside a writer at 100k lines/s and up to 137 ms once three busy
/// loops shared the machine; beside the writer at 230k lines/s, up to 209 ms (docs/BENCHMARKS.md, "Searches before
/// writes"). Someone searching waits for the answer; the rows waiting a few milliseconds longer in the pipeline's
/// bounded buffers (back-pressure, nothing lost) do not matter to anyone.</para>
/// <para><b>What holds.</b> Ingest is never starved: one wait lasts at most <see cref="MaxWait"/>, and after a wait of
/// d no wait starts for the next d, so with searches back to back the writer still has at least half of the time. A
/// write already appending finishes; only the next one waits. With no search held a check is one volatile read.</para>
/// </remarks>
internal sealed class SearchPriority(TimeProvider time)
{
    /// <summary>The longest one wait of a write for the searches held.</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromMilliseconds(200);

    private readonly Lock _lock = new();
    private int _searches;
    private int _waiting;
    private TaskCompletionSource? _idle;
    private long _noWaitUntil;
    private long _waitedTicks;

    /// <summary>Searches holding a scope now.</summary>
    public int Searches => Volatile.Read(ref _searches);

    /// <summary>Writes and preparations waiting now, for tests and diagnostics.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Time writes spent waiting for searches, summed over the writes.</summary>
    public TimeSpan Waited => TimeSpan.FromTicks(Interlocked.Read(ref _waitedTicks));

    /// <summary>Holds the writes back until the scope is disposed (or <see cref="MaxWait"/> has passed).</summary>
    public Scope Enter()
    {
        lock (_lock)
        {
            _searches++;
        }

        return new Scope(this);
    }

    /// <summary>Completes at once with no search held; otherwise when none is, or after <see cref="MaxWait"/>.</summary>
    public ValueTask WaitAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _searches) == 0 || time.GetTimestamp() < Interlocked.Read(ref _noWaitUntil))
        {
            return default;
        }

        Task idle;
        lock (_lock)
        {
            if (_searches == 0)
            {
                return default;
            }

            idle = (_idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }

        return new ValueTask(WaitSlowAsync(idle, cancellationToken));
    }

    private async Task WaitSlowAsync(Task idle, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        Interlocked.Increment(ref _waiting);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var delay = Task.Delay(MaxWait, time, timeout.Token);
            await Task.WhenAny(idle, delay).ConfigureAwait(false);
            await timeout.CancelAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
            var waited = time.GetElapsedTime(started);
            Interlocked.Add(ref _waitedTicks, waited.Ticks);
            var until = time.GetTimestamp() + (long)(waited.TotalSeconds * time.TimestampFrequency);
            if (until > Interlocked.Read(ref _noWaitUntil))
            {
                Interlocked.Exchange(ref _noWaitUntil, until);
            }
        }
    }

    private void Exit()
    {
        TaskCompletionSource? idle = null;
        lock (_lock)
        {
            if (--_searches == 0)
            {
                idle = _idle;
                _idle = null;
            }
        }

        idle?.TrySetResult();
    }

    /// <summary>A search in progress; disposing it ends it (once).</summary>
    public struct Scope(SearchPriority? owner) : IDisposable
    {
        private SearchPriority? _owner = owner;

        public void Dispose()
        {
            _owner?.Exit();
            _owner = null;
        }
    }
}
