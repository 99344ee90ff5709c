namespace Conveyor;

/// <summary>Starts building a <see cref="Pipeline{TIn}"/>.</summary>
public static class Pipeline
{
    /// <summary>Begins a pipeline whose producers write into a buffer built from <paramref name="head"/>.</summary>
    public static PipelineBuilder<TIn, TIn> Create<TIn>(BufferOptions<TIn> head)
    {
        var buffer = new BoundedBuffer<TIn>(head);
        return new PipelineBuilder<TIn, TIn>(buffer.Writer, buffer.Reader, [buffer], [], default);
    }

    /// <summary>Begins a pipeline whose stages are cancelled when <paramref name="cancellationToken"/> fires.</summary>
    public static PipelineBuilder<TIn, TIn> Create<TIn>(BufferOptions<TIn> head, CancellationToken cancellationToken)
    {
        var buffer = new BoundedBuffer<TIn>(head);
        return new PipelineBuilder<TIn, TIn>(buffer.Writer, buffer.Reader, [buffer], [], cancellationToken);
    }
}

/// <summary>
/// A pipeline under construction whose last buffer holds <typeparamref name="TCurrent"/>. Each step starts its
/// stage at once; nothing flows until producers write.
/// </summary>
public sealed class PipelineBuilder<TIn, TCurrent>
{
    private readonly BufferWriter<TIn> _head;
    private readonly BufferReader<TCurrent> _current;
    private readonly List<IBufferStatisticsSource> _buffers;
    private readonly List<IPipelineStage> _stages;
    private readonly CancellationToken _cancellationToken;

    internal PipelineBuilder(BufferWriter<TIn> head, BufferReader<TCurrent> current, List<IBufferStatisticsSource> buffers, List<IPipelineStage> stages, CancellationToken cancellationToken)
    {
        _head = head;
        _current = current;
        _buffers = buffers;
        _stages = stages;
        _cancellationToken = cancellationToken;
    }

    /// <summary>Adds a stage that turns each item into one item of the next buffer.</summary>
    public PipelineBuilder<TIn, TNext> Transform<TNext>(Func<TCurrent, CancellationToken, ValueTask<TNext>> transform, StageOptions<TCurrent> stage, BufferOptions<TNext> next)
    {
        var buffer = new BoundedBuffer<TNext>(next);
        var s = Stage.Transform(_current, transform, buffer.Writer, stage, completeOutput: true, _cancellationToken);
        return Then(buffer, s);
    }

    /// <summary>Adds a stage that turns batches into any number of items of the next buffer.</summary>
    public PipelineBuilder<TIn, TNext> TransformBatch<TNext>(Func<IReadOnlyList<TCurrent>, List<TNext>, CancellationToken, ValueTask> transform, StageOptions<TCurrent> stage, BufferOptions<TNext> next)
    {
        var buffer = new BoundedBuffer<TNext>(next);
        var s = Stage.TransformBatch(_current, transform, buffer.Writer, stage, completeOutput: true, _cancellationToken);
        return Then(buffer, s);
    }

    /// <summary>Ends the pipeline with a stage that handles batches of the last buffer.</summary>
    public Pipeline<TIn> SinkBatch(Func<IReadOnlyList<TCurrent>, CancellationToken, ValueTask> handler, StageOptions<TCurrent> stage)
    {
        var s = Stage.ForEachBatch(_current, handler, stage, _cancellationToken);
        _stages.Add(new StageAdapter<TCurrent>(s));
        return new Pipeline<TIn>(_head, _buffers, _stages);
    }

    /// <summary>Ends the pipeline with a stage that handles each item of the last buffer.</summary>
    public Pipeline<TIn> Sink(Func<TCurrent, CancellationToken, ValueTask> handler, StageOptions<TCurrent> stage)
    {
        var s = Stage.ForEach(_current, handler, stage, _cancellationToken);
        _stages.Add(new StageAdapter<TCurrent>(s));
        return new Pipeline<TIn>(_head, _buffers, _stages);
    }

    private PipelineBuilder<TIn, TNext> Then<TNext>(BoundedBuffer<TNext> buffer, ConsumerStage<TCurrent> stage)
    {
        _buffers.Add(buffer);
        _stages.Add(new StageAdapter<TCurrent>(stage));
        return new PipelineBuilder<TIn, TNext>(_head, buffer.Reader, _buffers, _stages, _cancellationToken);
    }

    private sealed class StageAdapter<T>(ConsumerStage<T> stage) : IPipelineStage
    {
        public string Name => stage.Name;

        public Task Completion => stage.Completion;

        public StageStatistics GetStatistics() => stage.GetStatistics();

        public async Task<(bool Completed, IReadOnlyList<object?> Left)> DrainAsync(TimeSpan timeout)
        {
            var result = await stage.DrainAsync(timeout).ConfigureAwait(false);
            return (result.Completed, result.Left.Select(static x => (object?)x).ToList());
        }

        public ValueTask DisposeAsync() => stage.DisposeAsync();
    }
}
