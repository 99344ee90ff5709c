using Conveyor.Logs.Model;

namespace Conveyor.Logs.Parsing;

/// <summary>
/// <c>plain</c>: a line of free text is a log event too (what <c>auto</c> makes of a line that shows no format's
/// signature). The body is the line, the time is the observed time, and a leading level word gives the severity:
/// <c>ERROR payment failed</c>, <c>[warn] disk 91% full</c>, <c>[ INFO ] started</c>, <c>error: no such file</c>,
/// Python's <c>WARNING:root:…</c>. Any word <see cref="KnownFields.SeverityOf(ReadOnlySpan{char})"/> knows counts
/// when it is bracketed or followed by <c>:</c> (any case) or ends the line; followed by a space or tab it counts only in
/// capitals, so that prose such as <c>Information about…</c> keeps no severity. Never refuses a line.
/// </summary>
internal sealed class PlainLineParser : ILogParser
{
    private const int MaxWord = 16;

    public string Name => "plain";

    public ParseOutcome Parse(ReadOnlySpan<byte> line, in LineContext context)
    {
        var e = context.EventOfLine(line);
        var word = LeadingLevelWord(line, out var number);
        if (number != Severity.Unspecified)
        {
            e.SeverityNumber = number;
            var canonical = Severity.TextOf(number);
            // The word as written; the shared constant when it is written that way, as it mostly is, to save a string.
            e.SeverityText = canonical is not null && System.Text.Ascii.Equals(word, canonical) ? canonical : Utf8.Decode(word);
        }

        return ParseOutcome.Success(e, Name);
    }

    /// <summary>The level word at the start of <paramref name="line"/> and its severity; an empty span and 0 when there is none.</summary>
    internal static ReadOnlySpan<byte> LeadingLevelWord(ReadOnlySpan<byte> line, out int number)
    {
        number = Severity.Unspecified;
        var bracketed = !line.IsEmpty && line[0] == '[';
        var i = bracketed ? SkipSpaces(line, 1) : 0;
        var start = i;
        while (i < line.Length && i - start <= MaxWord && IsLetter(line[i]))
        {
            i++;
        }

        var word = line[start..i];
        if (word.Length < 3 || word.Length > MaxWord)
        {
            return default;
        }

        var end = bracketed ? SkipSpaces(line, i) : i;
        var fits = bracketed
            ? end < line.Length && line[end] == ']'
            : end == line.Length || line[end] == ':' || (line[end] is (byte)' ' or (byte)'\t' && IsUpper(word));
        if (!fits)
        {
            return default;
        }

        Span<char> chars = stackalloc char[MaxWord];
        for (var k = 0; k < word.Length; k++)
        {
            chars[k] = (char)word[k];
        }

        number = KnownFields.SeverityOf(chars[..word.Length]);
        return number == Severity.Unspecified ? default : word;
    }

    private static int SkipSpaces(ReadOnlySpan<byte> line, int i)
    {
        while (i < line.Length && line[i] == ' ')
        {
            i++;
        }

        return i;
    }

    private static bool IsLetter(byte b) => (uint)((b | 0x20) - 'a') <= 'z' - 'a';

    private static bool IsUpper(ReadOnlySpan<byte> word)
    {
        foreach (var b in word)
        {
            if ((uint)(b - 'A') > 'Z' - 'A')
            {
                return false;
            }
        }

        return true;
    }
}
