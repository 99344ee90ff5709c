using System.Globalization;

namespace Conveyor.Logs.Amqp;

/// <summary>The message headers an edge sets and a worker reads (encoding version 1).</summary>
public static class AmqpHeaders
{
    /// <summary>Records in the message (int).</summary>
    public const string Count = "conveyor-count";

    /// <summary><c>events</c>, <c>raw</c> or <c>dead-letters</c>: what the records are.</summary>
    public const string Format = "conveyor-format";

    /// <summary>The sources of the message's records, comma-separated.</summary>
    public const string Source = "conveyor-source";

    /// <summary>The body's encoding version (int).</summary>
    public const string Encoding = "conveyor-encoding";

    /// <summary>The only encoding version this build writes and reads.</summary>
    public const int EncodingVersion = 1;

    /// <summary>
    /// Reads an integer header, which the broker hands back as a number or (from other clients) as text; null when
    /// absent or not an integer.
    /// </summary>
    public static long? ReadInt(IDictionary<string, object?>? headers, string key)
    {
        if (headers is null || !headers.TryGetValue(key, out var value))
        {
            return null;
        }

        return value switch
        {
            int i => i,
            long l => l,
            short s => s,
            byte b => b,
            byte[] text when long.TryParse(System.Text.Encoding.UTF8.GetString(text), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) => n,
            string text when long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) => n,
            _ => null,
        };
    }

    /// <summary>Reads a text header (the client delivers AMQP long strings as UTF-8 bytes); null when absent.</summary>
    public static string? ReadString(IDictionary<string, object?>? headers, string key) =>
        headers is not null && headers.TryGetValue(key, out var value)
            ? value switch
            {
                byte[] bytes => System.Text.Encoding.UTF8.GetString(bytes),
                string s => s,
                null => null,
                var other => Convert.ToString(other, CultureInfo.InvariantCulture),
            }
            : null;
}
