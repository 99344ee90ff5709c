using System.Globalization;

namespace Conveyor.Logs.Sinks.Ndjson;

/// <summary>
/// <c>ndjson:PATH</c> (one file, never rotated), <c>ndjson:PATH?rotate=SIZE</c> (rotated by size: <c>100MiB</c>,
/// <c>512KiB</c>, <c>1GiB</c> or bytes; at least 1 KiB), or <c>ndjson:-</c> for standard output: an
/// <see cref="NdjsonSink"/>, with retry.
/// </summary>
public static class NdjsonSinkFactory
{
    /// <summary>The registration in <see cref="SinkRegistry"/>.</summary>
    public static SinkRegistration Registration { get; } = new("ndjson", ["ndjson:PATH[?rotate=100MiB]", "ndjson:-"], Check, Open) { IsStore = true };

    private static string? Check(string remainder, string uri)
    {
        if (remainder.Length == 0)
        {
            return "'ndjson:' needs a path";
        }

        return TryParse(remainder, out _, out var error) ? null : error;
    }

    private static ValueTask<ILogSink> Open(string remainder, string uri, SinkContext context, CancellationToken cancellationToken)
    {
        context.RefuseStoreSettings("ndjson");
        if (remainder == "-")
        {
            return ValueTask.FromResult(context.Resilient(NdjsonSink.ForStream(Console.OpenStandardOutput(), leaveOpen: false, context.TimeProvider)));
        }

        if (!TryParse(remainder, out var options, out var error))
        {
            throw new ArgumentException($"{uri}: {error}", nameof(remainder));
        }

        return ValueTask.FromResult(context.Resilient(NdjsonSink.Open(options, context.TimeProvider)));
    }

    /// <summary>Reads <c>PATH[?rotate=SIZE]</c>.</summary>
    internal static bool TryParse(string remainder, out NdjsonSinkOptions options, out string? error)
    {
        var query = remainder.IndexOf('?', StringComparison.Ordinal);
        options = new NdjsonSinkOptions { Path = query < 0 ? remainder : remainder[..query] };
        error = null;
        if (query < 0)
        {
            return true;
        }

        foreach (var pair in remainder[(query + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var key = eq < 0 ? pair : pair[..eq];
            var value = eq < 0 ? string.Empty : pair[(eq + 1)..];
            if (key != "rotate")
            {
                error = $"unknown option '{key}' (expected rotate=SIZE, e.g. rotate=100MiB)";
                return false;
            }

            if (ParseSize(value) is not { } size || size < 1024)
            {
                error = $"rotate: '{value}' is not a size of at least 1KiB (e.g. rotate=100MiB)";
                return false;
            }

            options.MaxFileBytes = size;
        }

        return true;
    }

    private static long? ParseSize(string text)
    {
        (string Suffix, long Factor)[] units = [("GiB", 1L << 30), ("MiB", 1L << 20), ("KiB", 1L << 10), ("B", 1)];
        foreach (var (suffix, factor) in units)
        {
            if (text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                return long.TryParse(text.AsSpan(0, text.Length - suffix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n <= long.MaxValue / factor ? n * factor : null;
            }
        }

        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) ? bytes : null;
    }
}
