namespace Conveyor.Diagnostics;

/// <summary>
/// Names of every instrument of the <c>Conveyor</c> meter, and of their tags. Instruments are created in
/// <see cref="ConveyorMeter"/> only; everything else refers to these constants.
/// </summary>
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

    /// <summary>Items a stage's handler finished (counter; tag <c>stage</c>).</summary>
    public const string StageItemsProcessed = "conveyor.stage.items.processed";

    /// <summary>Items a stage sent to its dead-letter handler (counter; tag <c>stage</c>).</summary>
    public const string StageItemsDeadLettered = "conveyor.stage.items.dead_lettered";

    /// <summary>Handler attempts that were retried (counter; tag <c>stage</c>).</summary>
    public const string StageRetries = "conveyor.stage.retries";

    /// <summary>Handler call duration in seconds (histogram; tag <c>stage</c>).</summary>
    public const string StageHandlerDuration = "conveyor.stage.handler.duration";

    /// <summary>Items per batch handed to a batch handler (histogram; tag <c>stage</c>).</summary>
    public const string StageBatchSize = "conveyor.stage.batch.size";

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
