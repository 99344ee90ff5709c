namespace Conveyor.Logs.Model;

/// <summary>
/// A record that could not become an event: kept with why, so it is stored, counted and searchable
/// instead of dropped (docs/REFERENCE.md, "Event model").
/// </summary>
/// <param name="Id">Stable per input record, like <see cref="LogEvent.Id"/>, so a replay stores it once.</param>
/// <param name="Source">The source that received the record.</param>
/// <param name="Parser">The parser (or stage) that refused it, e.g. <c>combined</c>, <c>sink:postgres</c>.</param>
/// <param name="Reason">What is wrong, in words a user can act on.</param>
/// <param name="RawLine">The record as received; invalid UTF-8 is replaced with U+FFFD.</param>
/// <param name="Time">When it was refused.</param>
public sealed record DeadLetter(string Id, string Source, string Parser, string Reason, string RawLine, DateTimeOffset Time);
