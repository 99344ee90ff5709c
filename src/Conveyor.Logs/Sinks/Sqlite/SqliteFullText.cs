namespace Conveyor.Logs.Sinks.Sqlite;

/// <summary>
/// Which full-text index a SQLite store keeps on <c>body</c> (config key <c>sinks:N:fullText</c>). Every choice
/// answers every query alike (a bare word is a case-insensitive substring of the body); they differ in what a write
/// costs and how fast a rare word is found.
/// </summary>
public enum SqliteFullText
{
    /// <summary>
    /// An FTS5 index of word tokens without positions (<c>unicode61</c>, <c>detail=none</c>): several times cheaper to
    /// write than <see cref="Trigram"/>. A search term's complete inner words narrow the rows through the index and
    /// each candidate is checked as a substring; a term with no complete inner word scans. The default for a new database.
    /// </summary>
    Words,

    /// <summary>An FTS5 trigram index: any substring of three or more characters is an index lookup, at about four times the write cost of <see cref="Words"/>.</summary>
    Trigram,

    /// <summary>No index: every full-text term scans the rows in the time range (newest first, stopping at the limit).</summary>
    None,
}
