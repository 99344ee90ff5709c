using Conveyor.Logs.Model;

namespace Conveyor.Logs.Enrichment;

/// <summary>Adds derived attributes to an event in place. Implementations are thread-safe and never throw on odd input.</summary>
public interface ILogEnricher
{
    /// <summary>Enriches <paramref name="e"/>; an event without the inputs the enricher needs is left unchanged.</summary>
    void Enrich(LogEvent e);
}
