namespace Conveyor;

/// <summary>
/// A chain built from the library's parts: a head buffer, then stages joined by buffers, ending in a sink stage.
/// Completion flows down the chain: completing <see cref="Writer"/> lets each stage finish and complete the next
/// buffer in turn; an error flows the same way and faults <see cref="Completion"/>.
/// </summary>
/// <typeparam name="TIn">The type producers write.</typeparam>
public sealed class Pipeline<TIn> : IAsyncDisposable
{
    private readonly IReadOnlyList<IPipelineStage> _stages;

    internal Pipeline(BufferWriter<TIn> writer, IReadOnlyList<IBufferStatisticsSource> buffers, IReadOnlyList<IPipelineStage> stages)
    {
        Writer = writer;
        Buffers = buffers;
        _stages = stages;
        Completion = Task.WhenAll(stages.Select(static s => s.Completion));
    }

    /// <summary>Where producers write.</summary>
    public BufferWriter<TIn> Writer { get; }

    /// <summary>The buffers, head first.</summary>
    public IReadOnlyList<IBufferStatisticsSource> Buffers { get; }

    /// <summary>The stages, in flow order.</summary>
    public IReadOnlyList<IPipelineStage> Stages => _stages;

    /// <summary>Completes when every stage has; faults when any stage faulted.</summary>
    public Task Completion { get; }

    /// <summary>
    /// Stops intake (completes <see cref="Writer"/>) and lets every stage process what is queued, in flow order,
    /// within <paramref name="timeout"/> in all. Stages still busy at the deadline are cancelled and report what
    /// they left: queued items and items that were in a handler.
    /// </summary>
    public async Task<PipelineDrainResult> DrainAsync(TimeSpan timeout, TimeProvider? timeProvider = null)
    {
        var time = timeProvider ?? TimeProvider.System;
        var started = time.GetTimestamp();
        Writer.Complete();
        var reports = new List<StageDrainReport>(_stages.Count);
        foreach (var stage in _stages)
        {
            var remaining = timeout - time.GetElapsedTime(started);
            var (completed, left) = await stage.DrainAsync(remaining < TimeSpan.Zero ? TimeSpan.Zero : remaining).ConfigureAwait(false);
            reports.Add(new StageDrainReport(stage.Name, completed, left));
        }

        return new PipelineDrainResult(reports);
    }

    /// <summary>Cancels every stage without draining.</summary>
    public async ValueTask DisposeAsync()
    {
        Writer.Complete();
        foreach (var stage in _stages)
        {
            await stage.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>A stage seen without its item types, as a pipeline holds it.</summary>
public interface IPipelineStage : IAsyncDisposable
{
    /// <summary>The stage's name.</summary>
    string Name { get; }

    /// <summary>Completes when the stage is done.</summary>
    Task Completion { get; }

    /// <summary>The stage's counters.</summary>
    StageStatistics GetStatistics();

    /// <summary>Drains the stage (see <see cref="ConsumerStage{TIn}.DrainAsync"/>), returning the left items untyped.</summary>
    Task<(bool Completed, IReadOnlyList<object?> Left)> DrainAsync(TimeSpan timeout);
}

/// <summary>What one stage of a pipeline left at a drain.</summary>
/// <param name="Stage">The stage's name.</param>
/// <param name="Completed">True when it processed everything before the deadline.</param>
/// <param name="Left">Items it did not process.</param>
public sealed record StageDrainReport(string Stage, bool Completed, IReadOnlyList<object?> Left);

/// <summary>What a pipeline drain achieved.</summary>
/// <param name="Stages">One report per stage, in flow order.</param>
public sealed record PipelineDrainResult(IReadOnlyList<StageDrainReport> Stages)
{
    /// <summary>True when every stage finished before the deadline.</summary>
    public bool Completed => Stages.All(static s => s.Completed);

    /// <summary>Items left in all stages.</summary>
    public int LeftCount => Stages.Sum(static s => s.Left.Count);
}
