using System.Diagnostics.CodeAnalysis;

namespace Conveyor.Logs.Sinks;

/// <summary>
/// The one gate a store sink's calls pass through, and the disposed flag it guards: writes, dead letters, maintenance
/// and disposal never overlap, a call after disposal throws <see cref="ObjectDisposedException"/>, and a store error
/// leaves as the <see cref="SinkException"/> the sink's classifier makes of it. Each sink composes one and keeps only
/// what differs: its work, its probe, how it closes, and how it classifies its engine's errors.
/// </summary>
/// <remarks>
/// What holds: at most one piece of work runs at a time; <see cref="IsDisposed"/> changes only under the gate, once.
/// The classifier returns null for what is not the store's error (cancellation, bugs, a <see cref="SinkException"/>
/// the work threw itself where the sink does not map it): that exception leaves unchanged.
/// </remarks>
[SuppressMessage("Design", "CA1001", Justification = "The semaphore never allocates a wait handle (WaitAsync only), so it holds nothing to release; disposing it would turn calls after disposal into the semaphore's error instead of the sink's.")]
internal sealed class SinkGate
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly object _owner;
    private readonly Func<Exception, SinkException?> _classify;
    private readonly Action<SinkException>? _onFailure;
    private bool _disposed;

    /// <param name="owner">The sink, named by <see cref="ObjectDisposedException"/>.</param>
    /// <param name="classify">Maps a store error to transient or permanent; null for anything else.</param>
    /// <param name="onFailure">Runs under the gate with each classified failure before it is thrown (e.g. to drop dead connections).</param>
    public SinkGate(object owner, Func<Exception, SinkException?> classify, Action<SinkException>? onFailure = null)
    {
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
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
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
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Probes the store with <paramref name="probe"/> unless a call holds the gate: a store busy writing is reported
    /// healthy ("writing") rather than waited for; a disposed one, or a probe the store fails, unhealthy. Never throws
    /// for a store error.
    /// </summary>
    public async ValueTask<SinkHealth> ProbeAsync(Action probe, CancellationToken cancellationToken)
    {
        if (!await _gate.WaitAsync(0, cancellationToken).ConfigureAwait(false))
        {
            return new SinkHealth(true, "writing");
        }

        try
        {
            if (_disposed)
            {
                return SinkHealth.Unhealthy("disposed");
            }

            probe();
            return SinkHealth.Healthy;
        }
        catch (Exception e) when (_classify(e) is not null)
        {
            return SinkHealth.Unhealthy(e.Message);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Waits for the call in progress, then runs <paramref name="close"/> once: later calls, and a second disposal,
    /// find the sink disposed. Not cancellable, so a shutdown always closes the store.
    /// </summary>
    public async ValueTask DisposeAsync(Func<ValueTask> close)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
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
            _gate.Release();
        }
    }
}
