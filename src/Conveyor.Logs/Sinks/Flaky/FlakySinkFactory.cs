using Conveyor.Logs.Configuration;

namespace Conveyor.Logs.Sinks.Flaky;

/// <summary><c>flaky:UP/DOWN+URI</c>: a <see cref="FlakySink"/> in front of the sink URI names.</summary>
public static class FlakySinkFactory
{
    /// <summary>The registration in <see cref="SinkRegistry"/>.</summary>
    public static SinkRegistration Registration { get; } = new("flaky", ["flaky:UP/DOWN+URI"], Check, OpenAsync) { Wraps = true };

    private static string? Check(string remainder, string uri) =>
        TryParse(remainder, out _, out _, out var inner)
            ? SinkRegistry.Check(inner)
            : $"expected flaky:UP/DOWN+URI with two positive durations, e.g. flaky:20s/10s+null: (was '{uri}')";

    private static async ValueTask<ILogSink> OpenAsync(string remainder, string uri, SinkContext context, CancellationToken cancellationToken)
    {
        if (!TryParse(remainder, out var up, out var down, out var innerUri))
        {
            throw new ArgumentException($"expected flaky:UP/DOWN+URI (was '{uri}')", nameof(uri));
        }

        // Wrapped as a store is (retries with back-off, the failing-sink warnings, /ready, recovery), so its outages
        // go the way a real store's do. Over a store that wraps itself (sqlite:, duckdb:…) the retry counters then count
        // twice: flaky: is meant over null:.
        var inner = await SinkRegistry.OpenAsync(innerUri, context, cancellationToken).ConfigureAwait(false);
        return context.Resilient(new FlakySink(inner, up, down, context.TimeProvider));
    }

    private static bool TryParse(string remainder, out TimeSpan up, out TimeSpan down, out string inner)
    {
        up = down = TimeSpan.Zero;
        inner = string.Empty;
        var plus = remainder.IndexOf('+', StringComparison.Ordinal);
        var slash = plus < 0 ? -1 : remainder.IndexOf('/', 0, plus);
        if (slash < 0 || !Durations.TryParse(remainder[..slash], out up) || !Durations.TryParse(remainder[(slash + 1)..plus], out down)
            || up <= TimeSpan.Zero || down <= TimeSpan.Zero)
        {
            return false;
        }

        inner = remainder[(plus + 1)..];
        return true;
    }
}
