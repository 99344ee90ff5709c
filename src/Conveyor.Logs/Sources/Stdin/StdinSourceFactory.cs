using Conveyor.Logs.Configuration;

namespace Conveyor.Logs.Sources.Stdin;

/// <summary><c>stdin:</c> (also <c>stdin</c> and <c>-</c>): a <see cref="StdinSource"/>.</summary>
public static class StdinSourceFactory
{
    /// <summary>Standard input until EOF.</summary>
    public static SourceRegistration Registration { get; } = new(SourceType.Stdin, "stdin", "stdin:", Create);

    private static StdinSource Create(SourceContext c) => new StdinSource(c.Options, c.Info, c.Output, c.Logger, c.Time);
}
