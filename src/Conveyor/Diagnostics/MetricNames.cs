namespace Conveyor.Diagnostics;

/// <summary>
/// The one catalogue of names: every instrument of the <c>Conveyor</c> meter (the library's and the log service's)
/// and every tag. Instruments are created on <see cref="ConveyorMeter.Meter"/> only, under these constants.
/// </summary>
/// <remarks>
/// The <c>conveyor.component.*</c> family is the uniform view: every source, buffer, stage and sink of a running
/// pipeline reports received, sent, dropped (by reason), dead-lettered and errors with the same tags
/// (<see cref="TagComponent"/>, <see cref="TagName"/>, and <see cref="TagReason"/> on drops), read from the same
/// counters as <c>/api/pipeline</c>. The per-kind instruments below keep their names and tags.
/// </remarks>
public static class MetricNames
{
    /// <summary>The meter's name (docs/ARCHITECTURE.md, "The library's parts").</summary>
    public const string Meter = "Conveyor";

    /// <summary>Items accepted into a buffer (counter; tag <c>buffer</c>).</summary>
    public const string BufferItemsIn = "conveyor.buffer.items.in";

    /// <summary>Items handed to a buffer's readers (counter; tag <c>buffer</c>).</summary>
    public const string BufferItemsOut = "conveyor.buffer.items.out";

    /// <summary>Items dropped, rejected or evicted (counter; tags <c>buffer</c>, <c>reason</c>).</summary>
    public const string BufferItemsDropped = "conveyor.buffer.items.dropped";

    /// <summary>Items queued (gauge; tag <c>buffer</c>).</summary>
    public const string BufferDepth = "conveyor.buffer.depth";

    /// <summary>Bytes queued (gauge; tag <c>buffer</c>).</summary>
    public const string BufferBytes = "conveyor.buffer.bytes";

    /// <summary>The count bound (gauge; tag <c>buffer</c>).</summary>
    public const string BufferCapacity = "conveyor.buffer.capacity";

    /// <summary>Total seconds producers spent waiting for room (counter; tag <c>buffer</c>).</summary>
    public const string BufferBlockedTime = "conveyor.buffer.producer.blocked_time";

    /// <summary>Age in seconds of the oldest queued item (gauge; tag <c>buffer</c>).</summary>
    public const string BufferOldestItemAge = "conveyor.buffer.oldest_item.age";

    /// <summary>Items a stage's workers took from its input (counter; tag <c>stage</c>).</summary>
    public const string StageItemsReceived = "conveyor.stage.items.received";

    /// <summary>Items a stage's handler finished (counter; tag <c>stage</c>).</summary>
    public const string StageItemsProcessed = "conveyor.stage.items.processed";

    /// <summary>Items a stage sent to its dead-letter handler (counter; tag <c>stage</c>).</summary>
    public const string StageItemsDeadLettered = "conveyor.stage.items.dead_lettered";

    /// <summary>Handler attempts that were retried (counter; tag <c>stage</c>).</summary>
    public const string StageRetries = "conveyor.stage.retries";

    /// <summary>Items handed to a handler again after their batch failed permanently and was halved (counter; tag <c>stage</c>).</summary>
    public const string StageItemsResubmitted = "conveyor.stage.items.resubmitted";

    /// <summary>Handler call duration in seconds (histogram; tag <c>stage</c>).</summary>
    public const string StageHandlerDuration = "conveyor.stage.handler.duration";

    /// <summary>Items per batch handed to a batch handler (histogram; tag <c>stage</c>).</summary>
    public const string StageBatchSize = "conveyor.stage.batch.size";

    /// <summary>Items a component took in (counter; tags <c>component</c>, <c>name</c>): a source's records, a buffer's offered items, a stage's taken items.</summary>
    public const string ComponentReceived = "conveyor.component.received";

    /// <summary>Items a component passed on (counter; tags <c>component</c>, <c>name</c>): into the next buffer, or, for a sink, stored.</summary>
    public const string ComponentSent = "conveyor.component.sent";

    /// <summary>Items a component dropped (counter; tags <c>component</c>, <c>name</c>, <c>reason</c>; reason <c>none</c> at 0 for a component that cannot drop).</summary>
    public const string ComponentDropped = "conveyor.component.dropped";

    /// <summary>Items a component kept as dead letters instead of passing them on (counter; tags <c>component</c>, <c>name</c>).</summary>
    public const string ComponentDeadLettered = "conveyor.component.dead_lettered";

    /// <summary>
    /// Operations that failed (counter; tags <c>component</c>, <c>name</c>): a source's client faults, a sink's failed
    /// write attempts; always 0 for buffers and the parse stage (what they refuse is dropped or dead-lettered).
    /// </summary>
    public const string ComponentErrors = "conveyor.component.errors";

    /// <summary>Records a source took in (counter; tag <c>source</c>).</summary>
    public const string SourceReceived = "conveyor.source.records.received";

    /// <summary>Records a source wrote into the main buffer (counter; tag <c>source</c>).</summary>
    public const string SourceAdmitted = "conveyor.source.records.admitted";

    /// <summary>Records refused to a sender who was told, e.g. HTTP 429 (counter; tag <c>source</c>).</summary>
    public const string SourceRefused = "conveyor.source.records.refused";

    /// <summary>Records a source lost with no one told, e.g. UDP with a full buffer (counter; tag <c>source</c>).</summary>
    public const string SourceDropped = "conveyor.source.records.dropped";

    /// <summary>Faults clients caused: malformed requests or frames, resets, bodies sent too slowly (counter; tag <c>source</c>).</summary>
    public const string SourceClientFaults = "conveyor.source.client_faults";

    /// <summary>TCP: idle connections closed to admit a new one at the connection limit (counter; tag <c>source</c>).</summary>
    public const string SourceConnectionsEvicted = "conveyor.source.connections.evicted";

    /// <summary>TCP: connections refused at the limit with none idle (counter; tag <c>source</c>).</summary>
    public const string SourceConnectionsRefused = "conveyor.source.connections.refused";

    /// <summary>HTTP: request bodies refused unread over the in-flight budget (counter; tag <c>source</c>).</summary>
    public const string SourceBodiesRefused = "conveyor.source.bodies.refused";

    /// <summary>Records the parse workers turned into events (counter).</summary>
    public const string ParsedEvents = "conveyor.parse.events";

    /// <summary>Records that became dead letters at a source or a parser (counter).</summary>
    public const string ParseDeadLetters = "conveyor.parse.dead_letters";

    /// <summary>Records each sink stored: events and dead letters (counter; tag <c>sink</c>).</summary>
    public const string PipelineSinkStored = "conveyor.pipeline.sink.stored";

    /// <summary>Events a sink's store accepted (counter; tag <c>sink</c>); a replayed event the store already held counts too.</summary>
    public const string SinkWritten = "conveyor.sink.written";

    /// <summary>Dead letters a sink stored: the parser's, and events the store refused (counter; tag <c>sink</c>).</summary>
    public const string SinkDeadLettered = "conveyor.sink.dead_lettered";

    /// <summary>Write attempts that failed transiently: the store unreachable, full or locked, retried or not (counter; tag <c>sink</c>).</summary>
    public const string SinkErrors = "conveyor.sink.errors";

    /// <summary>
    /// Records lost for good: neither stored nor kept as dead letters after every retry and the dead-letter fallback
    /// (counter; tag <c>sink</c>). The same count as <c>/api/pipeline</c>'s <c>dropped.failed</c> and the shutdown
    /// report's <c>failed</c>.
    /// </summary>
    public const string SinkFailed = "conveyor.sink.failed";

    /// <summary>
    /// The conservation check (gauge, 1 = balanced): per stage, received = sent + dropped + dead-lettered + buffered;
    /// per sink, admitted = stored + dead-lettered + dropped + in the pipeline. Tag <c>check</c> names the stage or sink.
    /// </summary>
    public const string PipelineBalanced = "conveyor.pipeline.balanced";

    /// <summary>Tag naming the kind of a component: <c>source</c>, <c>buffer</c>, <c>stage</c> or <c>sink</c>.</summary>
    public const string TagComponent = "component";

    /// <summary>Tag naming a component, as <c>/api/pipeline</c> does (<c>source:tcp-5170</c>, <c>main</c>, <c>parse</c>, <c>sink:NAME</c> for a sink's queue, <c>write:NAME</c> for its writer).</summary>
    public const string TagName = "name";

    /// <summary>Tag naming a source.</summary>
    public const string TagSource = "source";

    /// <summary>Tag naming a sink.</summary>
    public const string TagSink = "sink";

    /// <summary>Tag naming what a conservation check covers.</summary>
    public const string TagCheck = "check";

    /// <summary>Tag naming the buffer.</summary>
    public const string TagBuffer = "buffer";

    /// <summary>Tag naming the stage.</summary>
    public const string TagStage = "stage";

    /// <summary>Tag naming a drop reason (<see cref="DropReason"/> in snake case).</summary>
    public const string TagReason = "reason";

    /// <summary>The tag value of a drop reason.</summary>
    public static string ReasonTag(DropReason reason) => reason switch
    {
        DropReason.DropNewest => "drop_newest",
        DropReason.DropOldest => "drop_oldest",
        DropReason.Rejected => "rejected",
        DropReason.BlockTimeout => "block_timeout",
        DropReason.TooLarge => "too_large",
        _ => "unknown",
    };
}
