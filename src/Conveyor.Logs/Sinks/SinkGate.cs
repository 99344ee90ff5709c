using System.Diagnostics.CodeAnalysis;

namespace Conveyor.Logs.Sinks;

/// <summary>
/// The one gate a store sink's calls pass through, and the disposed flag it guards: writes, dead letters, maintenance
/// and disposal never overlap, a call after disposal throws <see cref="ObjectDisposedException"/>, and a store error
/// leaves as the <see cref="SinkException"/> the sink's classifier makes of it. Each sink composes one and keeps only
/// what differs: its work, its probe, how it closes, and how it classifies its engine's errors.
/// </summary>
/// <remarks>
/// <para>A sink whose store takes several writes at once (DuckDB: one connection per writer) gives the gate a width
/// (<c>shared</c>): up to that many <see cref="RunSharedAsync{T}"/> calls run together, while every other call
/// (<see cref="RunAsync{T}(Func{CancellationToken, ValueTask{T}}, CancellationToken)"/>, the probe, disposal) is
/// exclusive: it holds every permit, so it runs alone. With the default width 1 both kinds are the same.</para>
/// <para>What holds: an exclusive call runs alone, shared calls run at most width at a time and never beside an exclusive
/// one; <see cref="IsDisposed"/> changes only under an exclusive hold, once. Exclusive callers take the permits one
/// after another behind a second, one-permit lock, so two of them never each hold part of the permits (no deadlock);
/// SemaphoreSlim serves waiters in arrival order, so a stream of shared writes does not starve an exclusive call.</para>
/// <para>The classifier returns null for what is not the store's error (cancellation, bugs, a <see cref="SinkException"/>
/// the work threw itself where the sink does not map it): that exception leaves unchanged.</para>
/// </remarks>
[SuppressMessage("Design", "CA1001", Justification = "The semaphores never allocate a wait handle (WaitAsync, and Wait(0) which returns at once), so they hold nothing to release; disposing them would turn calls after disposal into the semaphore's error instead of the sink's.")]
internal sealed class SinkGate
{
    private readonly SemaphoreSlim _gate;
    private readonly SemaphoreSlim _exclusive = new(1, 1);
    private readonly int _width;
    private readonly object _owner;
    private readonly Func<Exception, SinkException?> _classify;
    private readonly Action<SinkException>? _onFailure;
    private bool _disposed;

    /// <param name="owner">The sink, named by <see cref="ObjectDisposedException"/>.</param>
    /// <param name="classify">Maps a store error to transient or permanent; null for anything else.</param>
    /// <param name="onFailure">Runs under the gate with each classified failure before it is thrown (e.g. to drop dead connections).</param>
    /// <param name="shared">How many <see cref="RunSharedAsync{T}"/> calls may run at once; at least 1.</param>
    public SinkGate(object owner, Func<Exception, SinkException?> classify, Action<SinkException>? onFailure = null, int shared = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shared, 1);
        _width = shared;
        _gate = new SemaphoreSlim(shared, shared);
        _owner = owner;
        _classify = classify;
        _onFailure = onFailure;
    }

    /// <summary>True once <see cref="DisposeAsync"/> has begun closing the store.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>Runs <paramref name="work"/> under the gate.</summary>
    /// <exception cref="ObjectDisposedException">The sink was disposed.</exception>
    /// <exception cref="SinkException">The store failed (as classified).</exception>
    public async ValueTask RunAsync(Action work, CancellationToken cancellationToken) =>
        await RunAsync(
            () =>
            {
                work();
                return true;
            },
            cancellationToken).ConfigureAwait(false);

    /// <summary>Runs <paramref name="work"/> under the gate and returns its result.</summary>
    /// <exception cref="ObjectDisposedException">The sink was disposed.</exception>
    /// <exception cref="SinkException">The store failed (as classified).</exception>
    public ValueTask<T> RunAsync<T>(Func<T> work, CancellationToken cancellationToken) =>
        RunAsync(_ => ValueTask.FromResult(work()), cancellationToken);

    /// <summary>Runs the asynchronous <paramref name="work"/> under the gate.</summary>
    /// <exception cref="ObjectDisposedException">The sink was disposed.</exception>
    /// <exception cref="SinkException">The store failed (as classified).</exception>
    public async ValueTask RunAsync(Func<CancellationToken, ValueTask> work, CancellationToken cancellationToken) =>
        await RunAsync(
            async ct =>
            {
                await work(ct).ConfigureAwait(false);
                return true;
            },
            cancellationToken).ConfigureAwait(false);

    /// <summary>Runs the asynchronous <paramref name="work"/> under the gate and returns its result.</summary>
    /// <exception cref="ObjectDisposedException">The sink was disposed.</exception>
    /// <exception cref="SinkException">The store failed (as classified).</exception>
    public async ValueTask<T> RunAsync<T>(Func<CancellationToken, ValueTask<T>> work, CancellationToken cancellationToken)
    {
        await EnterExclusiveAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await RunEnteredAsync(work, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ExitExclusive();
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> beside at most width − 1 other shared calls, never beside an exclusive one: the
    /// work must keep to what its own hold owns (e.g. a connection it took) and lock what it shares.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The sink was disposed.</exception>
    /// <exception cref="SinkException">The store failed (as classified).</exception>
    public async ValueTask<T> RunSharedAsync<T>(Func<CancellationToken, ValueTask<T>> work, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await RunEnteredAsync(work, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async ValueTask<T> RunEnteredAsync<T>(Func<CancellationToken, ValueTask<T>> work, CancellationToken cancellationToken)
    {
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, _owner);
            return await work(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (_classify(e) is { } failure)
        {
            _onFailure?.Invoke(failure);
            throw failure;
        }
    }

    /// <summary>Takes every permit (behind the exclusive lock, so two exclusive callers never split them; one permit needs no lock).</summary>
    private async ValueTask EnterExclusiveAsync(CancellationToken cancellationToken)
    {
        if (_width == 1)
        {
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        await _exclusive.WaitAsync(cancellationToken).ConfigureAwait(false);
        var taken = 0;
        try
        {
            for (; taken < _width; taken++)
            {
                await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            if (taken > 0)
            {
                _gate.Release(taken);
            }

            _exclusive.Release();
            throw;
        }
    }

    /// <summary>Every permit without waiting, or none (false).</summary>
    private bool TryEnterExclusive()
    {
        if (_width == 1)
        {
            return _gate.Wait(0);
        }

        if (!_exclusive.Wait(0))
        {
            return false;
        }

        for (var taken = 0; taken < _width; taken++)
        {
            if (!_gate.Wait(0))
            {
                if (taken > 0)
                {
                    _gate.Release(taken);
                }

                _exclusive.Release();
                return false;
            }
        }

        return true;
    }

    private void ExitExclusive()
    {
        _gate.Release(_width);
        if (_width > 1)
        {
            _exclusive.Release();
        }
    }

    /// <summary>
    /// Probes the store with <paramref name="probe"/> unless a call holds the gate: a store busy writing is reported
    /// healthy ("writing") rather than waited for; a disposed one, or a probe the store fails, unhealthy. Never throws
    /// for a store error.
    /// </summary>
    public ValueTask<SinkHealth> ProbeAsync(Action probe, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!TryEnterExclusive())
        {
            return ValueTask.FromResult(new SinkHealth(true, "writing"));
        }

        try
        {
            if (_disposed)
            {
                return ValueTask.FromResult(SinkHealth.Unhealthy("disposed"));
            }

            probe();
            return ValueTask.FromResult(SinkHealth.Healthy);
        }
        catch (Exception e) when (_classify(e) is not null)
        {
            return ValueTask.FromResult(SinkHealth.Unhealthy(e.Message));
        }
        finally
        {
            ExitExclusive();
        }
    }

    /// <summary>
    /// Waits for the calls in progress, then runs <paramref name="close"/> once: later calls, and a second disposal,
    /// find the sink disposed. Not cancellable, so a shutdown always closes the store.
    /// </summary>
    public async ValueTask DisposeAsync(Func<ValueTask> close)
    {
        await EnterExclusiveAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (_disposed)
            {
                return;
            }

            // Now true: no call runs, and every later one throws ObjectDisposedException.
            _disposed = true;
            await close().ConfigureAwait(false);
        }
        finally
        {
            ExitExclusive();
        }
    }
}
