namespace Conveyor.Logs.Query;

/// <summary>A node of a parsed query.</summary>
public abstract record QueryNode;

/// <summary>Matches every event (an empty query or <c>*</c>).</summary>
public sealed record MatchAll : QueryNode
{
    public static MatchAll Instance { get; } = new();
}

/// <summary>Both sides match.</summary>
public sealed record AndNode(QueryNode Left, QueryNode Right) : QueryNode;

/// <summary>Either side matches.</summary>
public sealed record OrNode(QueryNode Left, QueryNode Right) : QueryNode;

/// <summary>The operand does not match.</summary>
public sealed record NotNode(QueryNode Operand) : QueryNode;

/// <summary>Full-text search: the body contains <see cref="Text"/> (case-insensitive).</summary>
public sealed record TextNode(string Text) : QueryNode;

/// <summary>A comparison operator of the query language.</summary>
public enum QueryOperator
{
    Equal,
    NotEqual,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
    Contains,
}

/// <summary>
/// <c>field op value</c>; <see cref="Number"/> is set when the value is an unquoted number. The columns (1-based)
/// let the compiler report an unknown field or a bad value where it was written.
/// </summary>
public sealed record CompareNode(string Field, QueryOperator Operator, string Value, double? Number, int FieldColumn, int ValueColumn) : QueryNode;
