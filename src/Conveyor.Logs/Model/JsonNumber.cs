using System.Buffers.Text;
using System.Globalization;
using System.Numerics;
using System.Text.Json;

namespace Conveyor.Logs.Model;

/// <summary>
/// How a JSON number becomes an attribute value and back, so that its kind survives every hop (parser → event →
/// store → query output): an integer stays an integer and a floating-point number stays one, even when its value is
/// whole (<c>0.0</c>, <c>1e3</c>).
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Integer syntax (no <c>.</c>, no exponent) within <see cref="long"/> → <see cref="long"/>; beyond it →
/// <see cref="BigInteger"/>, kept exactly (a Go <c>uint64</c> or an id of 20+ digits is not rounded).</item>
/// <item>Anything else → <see cref="double"/> (IEEE binary64, as most JSON readers do: the value is kept to 17
/// significant digits, not the text); a number no double can hold (<c>1e400</c>) is kept as its text, a string.</item>
/// <item>A double is written in the shortest form that reads back to the same value, and always with a <c>.</c> or an
/// exponent (<c>0.0</c>, <c>1000.0</c>, <c>1E-07</c>) so it reads back as a double. Large doubles are written without
/// a positive exponent (<c>1E+20</c> → <c>100000000000000000000.0</c>) because PostgreSQL's <c>jsonb</c> would turn
/// <c>1E+20</c> into the integer <c>100000000000000000000</c>.</item>
/// </list>
/// </remarks>
internal static class JsonNumber
{
    /// <summary>The attribute value of a JSON number given as its UTF-8 text, already validated as JSON.</summary>
    public static object FromText(ReadOnlySpan<byte> text)
    {
        if (Utf8Parser.TryParse(text, out long l, out var consumed) && consumed == text.Length)
        {
            return l;
        }

        if (text.IndexOfAny(".eE"u8) < 0)
        {
            return BigInteger.Parse(System.Text.Encoding.UTF8.GetString(text), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)
            ? d
            : System.Text.Encoding.UTF8.GetString(text);
    }

    /// <summary>Writes a finite double so that it reads back as a double with the same value.</summary>
    public static void Write(Utf8JsonWriter writer, double value)
    {
        Span<byte> text = stackalloc byte[32];
        if (!value.TryFormat(text, out var n, "R", CultureInfo.InvariantCulture))
        {
            writer.WriteNumberValue(value);
            return;
        }

        var e = text[..n].IndexOf((byte)'E');
        if (e < 0)
        {
            if (text[..n].IndexOf((byte)'.') < 0)
            {
                ".0"u8.CopyTo(text[n..]);
                n += 2;
            }

            writer.WriteRawValue(text[..n], skipInputValidation: true);
            return;
        }

        if (text[e + 1] == '-')
        {
            writer.WriteRawValue(text[..n], skipInputValidation: true);
            return;
        }

        // A positive exponent: "-d.ddddE+x" with at most 17 digits and x ≤ 308, so the positional form fits 330 bytes.
        Span<byte> positional = stackalloc byte[330];
        var mantissa = text[..e];
        var p = 0;
        if (mantissa[0] == '-')
        {
            positional[p++] = (byte)'-';
            mantissa = mantissa[1..];
        }

        var exponent = int.Parse(text[(e + 2)..n], NumberStyles.None, CultureInfo.InvariantCulture);
        var point = mantissa.IndexOf((byte)'.');
        var integerDigits = point < 0 ? mantissa.Length : point;
        var digits = p;
        foreach (var b in mantissa)
        {
            if (b != '.')
            {
                positional[p++] = b;
            }
        }

        // The decimal point now belongs after integerDigits + exponent digits: pad with zeros or insert it.
        var pointAt = digits + integerDigits + exponent;
        while (p < pointAt)
        {
            positional[p++] = (byte)'0';
        }

        if (p == pointAt)
        {
            ".0"u8.CopyTo(positional[p..]);
            p += 2;
        }
        else
        {
            positional[pointAt..p].CopyTo(positional[(pointAt + 1)..]);
            positional[pointAt] = (byte)'.';
            p++;
        }

        writer.WriteRawValue(positional[..p], skipInputValidation: true);
    }

    /// <summary>Writes an integer beyond <see cref="long"/> as the exact JSON number it is.</summary>
    public static void Write(Utf8JsonWriter writer, BigInteger value) =>
        writer.WriteRawValue(value.ToString(CultureInfo.InvariantCulture), skipInputValidation: true);
}
