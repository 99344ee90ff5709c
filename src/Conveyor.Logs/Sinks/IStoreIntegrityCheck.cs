namespace Conveyor.Logs.Sinks;

/// <summary>
/// A store that can tell, when it opens, whether what it holds can still be read back (a damaged file, a foreign
/// format). <see cref="SinkRegistry.OpenAsync"/> runs the check on every
/// store that implements it and refuses to hand out one that fails, so the service never accepts lines into a
/// store it could not search. SQLite runs <c>PRAGMA quick_check</c>; a new store implements this with its own
/// engine's equivalent.
/// </summary>
public interface IStoreIntegrityCheck
{
    /// <summary>What is wrong with the store, naming its path or address; null when it is sound.</summary>
    ValueTask<string?> CheckIntegrityAsync(CancellationToken cancellationToken);
}
