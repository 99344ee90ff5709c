using Conveyor.Logs.Pipeline;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Microsoft.Extensions.Logging;

namespace Conveyor.Logs.Sources;

/// <summary>
/// A source of raw lines. <see cref="StartAsync"/> binds (so a taken port fails the start, not later);
/// <see cref="StopAsync(CancellationToken, CancellationToken)"/> stops accepting and reading, lets every record already read reach the buffer, and
/// returns when the source is done.
/// </summary>
public abstract partial class LogSource : IAsyncDisposable
{
    private readonly CancellationTokenSource _stopReading = new();
    private readonly CancellationTokenSource _abandon = new();
    private readonly CancellationTokenSource _readOnEnded = new();
    private Task _run = Task.CompletedTask;
    private int _disposed;

    /// <summary>Creates a source writing to <paramref name="output"/>.</summary>
    protected LogSource(SourceOptions options, SourceInfo info, LineIntake output, ILogger logger, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(time);
        Options = options;
        Info = info;
        Output = output;
        Logger = logger;
        Time = time;
    }

    /// <summary>The source's name, parser and counters.</summary>
    public SourceInfo Info { get; }

    /// <summary>Completes when the source has ended: at EOF for stdin, after <see cref="StopAsync(CancellationToken, CancellationToken)"/> for the others.</summary>
    public Task Completion => _run;

    /// <summary>True for sources that end by themselves (stdin): when all sources are such, the service stops after them.</summary>
    public virtual bool EndsByItself => false;

    /// <summary>The source's settings.</summary>
    protected SourceOptions Options { get; }

    /// <summary>The main buffer.</summary>
    protected LineIntake Output { get; }

    /// <summary>Where the source logs.</summary>
    protected ILogger Logger { get; }

    /// <summary>The clock.</summary>
    protected TimeProvider Time { get; }

    /// <summary>Fires when the source must stop reading.</summary>
    protected CancellationToken StopReading => _stopReading.Token;

    /// <summary>Fires when the drain deadline passes: records still waiting for room are given up (and counted).</summary>
    protected CancellationToken Abandon => _abandon.Token;

    /// <summary>
    /// Fires when a stopping source must stop reading on (the read-on deadline, or the drain deadline if earlier):
    /// a source that reads open connections to their end after <see cref="StopReading"/> stops reading then, while
    /// records it already read still go into the buffer until <see cref="Abandon"/>.
    /// </summary>
    protected CancellationToken ReadOnEnded => _readOnEnded.Token;

    /// <summary>Binds and starts the source.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await BindAsync(cancellationToken).ConfigureAwait(false);
        _run = Task.Run(RunGuardedAsync, CancellationToken.None);
    }

    /// <summary>
    /// Stops accepting and reading; records already read still go into the buffer unless
    /// <paramref name="deadline"/> fires first. Returns when the source has ended.
    /// </summary>
    public Task StopAsync(CancellationToken deadline) => StopAsync(deadline, deadline);

    /// <summary>
    /// Stops accepting; a source that reads open connections to their end (TCP) reads on until
    /// <paramref name="readOnDeadline"/>, so that what it admits can still drain before <paramref name="deadline"/>
    /// (a sender that never pauses would otherwise fill the buffer up to the drain deadline, leaving the whole buffer
    /// unstored). Records already read still go into the buffer unless <paramref name="deadline"/> fires first.
    /// </summary>
    public async Task StopAsync(CancellationToken readOnDeadline, CancellationToken deadline)
    {
        await _stopReading.CancelAsync().ConfigureAwait(false);
        OnStopping();
        using var reg = deadline.Register(static s => ((CancellationTokenSource)s!).Cancel(), _abandon);
        using var readOn = readOnDeadline.Register(static s => ((CancellationTokenSource)s!).Cancel(), _readOnEnded);
        using var readOnByDeadline = deadline.Register(static s => ((CancellationTokenSource)s!).Cancel(), _readOnEnded);
        try
        {
            // A stream that ignores cancellation (a console read) must not hold the stop past the deadline.
            await _run.WaitAsync(deadline).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopReading.CancelAsync().ConfigureAwait(false);
        await _abandon.CancelAsync().ConfigureAwait(false);
        await _readOnEnded.CancelAsync().ConfigureAwait(false);
        OnStopping();
        await _run.ConfigureAwait(false);
        await OnDisposedAsync().ConfigureAwait(false);
        _stopReading.Dispose();
        _abandon.Dispose();
        _readOnEnded.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Opens the listener, file or stream; throws when that is impossible.</summary>
    protected abstract Task BindAsync(CancellationToken cancellationToken);

    /// <summary>Runs until stopped (or EOF).</summary>
    protected abstract Task RunAsync();

    /// <summary>
    /// Runs once on disposal, after the source ended. The service disposes sources after the pipeline drained, so
    /// acknowledgements of what the source read have fired by then (a file source saves its last checkpoint here).
    /// </summary>
    protected virtual ValueTask OnDisposedAsync() => default;

    /// <summary>Closes listeners so blocked accepts and receives return; runs once stopping begins.</summary>
    protected virtual void OnStopping()
    {
    }

    private async Task RunGuardedAsync()
    {
        try
        {
            await RunAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (!_stopReading.IsCancellationRequested)
        {
            LogSourceFailed(Logger, Info.Name, ex);
        }
        catch (Exception)
        {
            // Errors from sockets closed by the stop itself carry no news.
        }
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Error, Message = "Source {Source} failed")]
    private static partial void LogSourceFailed(ILogger logger, string source, Exception error);
}
