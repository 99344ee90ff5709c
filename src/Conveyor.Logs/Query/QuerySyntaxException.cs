namespace Conveyor.Logs.Query;

/// <summary>A query that does not parse; <see cref="Column"/> is 1-based and the message says what was expected.</summary>
public sealed class QuerySyntaxException : Exception
{
    public QuerySyntaxException()
    {
    }

    public QuerySyntaxException(string message)
        : base(message)
    {
    }

    public QuerySyntaxException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an error at <paramref name="column"/> (1-based) with <paramref name="reason"/>.</summary>
    public QuerySyntaxException(int column, string reason)
        : base($"column {column}: {reason}")
    {
        Column = column;
        Reason = reason;
    }

    /// <summary>The 1-based column the error was found at.</summary>
    public int Column { get; }

    /// <summary>What is wrong there, without the column prefix.</summary>
    public string Reason { get; } = string.Empty;
}
