namespace Conveyor.Logs.Sinks;

/// <summary>What one retention run deleted.</summary>
/// <param name="Events">Events deleted row by row (SQLite); 0 where whole partitions are dropped instead.</param>
/// <param name="DeadLetters">Dead letters deleted.</param>
/// <param name="Partitions">Day partitions dropped (PostgreSQL).</param>
public readonly record struct RetentionResult(long Events, long DeadLetters, long Partitions = 0);
