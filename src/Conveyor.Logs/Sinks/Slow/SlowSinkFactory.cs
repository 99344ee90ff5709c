using Conveyor.Logs.Configuration;

namespace Conveyor.Logs.Sinks.Slow;

/// <summary><c>slow:DURATION+URI</c>: a <see cref="SlowSink"/> in front of the sink URI names.</summary>
public static class SlowSinkFactory
{
    /// <summary>The registration in <see cref="SinkRegistry"/>.</summary>
    public static SinkRegistration Registration { get; } = new("slow", ["slow:DURATION+URI"], Check, OpenAsync) { Wraps = true };

    private static string? Check(string remainder, string uri)
    {
        var plus = remainder.IndexOf('+', StringComparison.Ordinal);
        if (plus < 0 || !Durations.TryParse(remainder[..plus], out _))
        {
            return $"expected slow:DURATION+URI, e.g. slow:5ms+sqlite:x.db (was '{uri}')";
        }

        return SinkRegistry.Check(remainder[(plus + 1)..]);
    }

    private static async ValueTask<ILogSink> OpenAsync(string remainder, string uri, SinkContext context, CancellationToken cancellationToken)
    {
        var plus = remainder.IndexOf('+', StringComparison.Ordinal);
        if (plus < 0 || !Durations.TryParse(remainder[..plus], out var delay))
        {
            throw new ArgumentException($"expected slow:DURATION+URI (was '{uri}')", nameof(uri));
        }

        var inner = await SinkRegistry.OpenAsync(remainder[(plus + 1)..], context, cancellationToken).ConfigureAwait(false);
        return new SlowSink(inner, delay, context.TimeProvider);
    }
}
