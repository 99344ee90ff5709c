using System.Globalization;
using System.Text.RegularExpressions;
using Conveyor.Logs.Model;

namespace Conveyor.Logs.Parsing;

/// <summary>
/// A user-defined format (<see cref="PatternOptions"/>): the regex runs on the decoded line with a match timeout, so a
/// pathological pattern costs one dead letter, not a stuck worker.
/// </summary>
internal sealed class PatternParser : ILogParser
{
    private static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(100);
    private readonly Regex _regex;
    private readonly PatternOptions _options;
    private readonly TimeZoneInfo _zone;
    private readonly (string Group, string Attribute)[] _groups;

    /// <exception cref="ArgumentException">The name or pattern is empty, the pattern does not compile, or a named group is missing.</exception>
    public PatternParser(PatternOptions options, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.Name))
        {
            throw new ArgumentException("patterns[].name is required", nameof(options));
        }

        if (string.IsNullOrEmpty(options.Pattern))
        {
            throw new ArgumentException($"patterns[{options.Name}].pattern is required", nameof(options));
        }

        try
        {
            _regex = new Regex(options.Pattern, RegexOptions.CultureInvariant | RegexOptions.ExplicitCapture, MatchTimeout);
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"patterns[{options.Name}].pattern does not compile: {ex.Message}", nameof(options), ex);
        }

        var names = _regex.GetGroupNames().Where(n => !int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out _)).ToArray();
        foreach (var required in new[] { options.TimestampGroup, options.MessageGroup }.Concat(options.Attributes.Keys))
        {
            if (required is not null && !names.Contains(required, StringComparer.Ordinal))
            {
                throw new ArgumentException($"patterns[{options.Name}]: the pattern has no group named '{required}'", nameof(options));
            }
        }

        _options = options;
        _zone = zone;
        _groups = names
            .Where(n => n != options.TimestampGroup && n != options.MessageGroup)
            .Select(n => (n, options.Attributes.TryGetValue(n, out var a) ? a : n))
            .ToArray();
    }

    public string Name => _options.Name;

    public ParseOutcome Parse(ReadOnlySpan<byte> line, in LineContext context)
    {
        var text = Utf8.Decode(line);
        Match match;
        try
        {
            match = _regex.Match(text);
        }
        catch (RegexMatchTimeoutException)
        {
            return ParseOutcome.Failure(Name, Name + ": pattern timed out after " + MatchTimeout.TotalMilliseconds + " ms", line, context);
        }

        if (!match.Success)
        {
            return ParseOutcome.Failure(Name, Name + ": line does not match the pattern", line, context);
        }

        var e = new LogEvent(context.Id, context.Source, text, context.ReceivedAt);
        if (_options.TimestampGroup is { } tg && match.Groups[tg] is { Success: true } tsGroup)
        {
            if (!TryParseTimestamp(tsGroup.Value, out var ts))
            {
                return ParseOutcome.Failure(Name, Name + ": group '" + tg + "' is not a timestamp: " + tsGroup.Value, line, context);
            }

            e.Timestamp = ts;
        }

        if (_options.MessageGroup is { } mg && match.Groups[mg] is { Success: true } msgGroup)
        {
            e.Body = msgGroup.Value;
        }

        foreach (var (group, attribute) in _groups)
        {
            var g = match.Groups[group];
            if (g.Success)
            {
                e.Attributes.Set(attribute, g.Value);
            }
        }

        return ParseOutcome.Success(e, Name);
    }

    private bool TryParseTimestamp(string value, out DateTimeOffset ts)
    {
        if (_options.TimestampFormat is { } format)
        {
            return DateTimeOffset.TryParseExact(value, format, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out ts);
        }

        return Timestamps.TryParse(System.Text.Encoding.UTF8.GetBytes(value), _zone, out ts);
    }
}
