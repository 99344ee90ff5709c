using System.Globalization;

namespace Conveyor.Logs.Configuration;

/// <summary>Durations as config files, <c>--to slow:</c> and the command line write them.</summary>
public static class Durations
{
    /// <summary>Reads <c>250ms</c>, <c>5s</c>, <c>2m</c>, <c>1h</c> or a TimeSpan (<c>00:00:05</c>).</summary>
    public static bool TryParse(string text, out TimeSpan value)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = text.Trim();
        (string Suffix, double Ms)[] units = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)];
        foreach (var (suffix, ms) in units)
        {
            if (text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(text[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= 0)
            {
                value = TimeSpan.FromMilliseconds(n * ms);
                return true;
            }
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value) && value >= TimeSpan.Zero;
    }
}
