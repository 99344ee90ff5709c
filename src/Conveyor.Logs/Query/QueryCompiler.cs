using System.Globalization;
using System.Text;
using Conveyor.Logs.Model;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sinks.DuckDb;
using Conveyor.Logs.Sinks.Sqlite;

namespace Conveyor.Logs.Query;

/// <summary>The SQL stores a query compiles for.</summary>
public enum SqlDialect
{
    Sqlite,
    Postgres,

    /// <summary>DuckDB: times are <c>TIMESTAMP</c>s, attributes a JSON column, no index (columns are scanned).</summary>
    DuckDb,
}

/// <summary>A WHERE condition and its parameters; the condition text holds no user input.</summary>
/// <param name="Where">A boolean SQL expression over the <c>events</c> (or <c>dead_letters</c>) columns.</param>
/// <param name="Parameters">Name (with its <c>$</c>/<c>@</c> prefix) and value of each parameter the condition uses.</param>
public sealed record CompiledQuery(string Where, IReadOnlyList<KeyValuePair<string, object>> Parameters);

/// <summary>
/// Compiles a <see cref="QueryNode"/> to parameterised SQL. Values are always parameters; field names are either
/// mapped through a fixed table of columns or passed as a JSON key parameter, so nothing the user typed reaches
/// the SQL text. SQLite, PostgreSQL and DuckDB get the same semantics, so every store answers a query alike:
/// <list type="bullet">
/// <item><c>~</c> and full-text words are case-insensitive substring matches over body, whatever index serves them
/// (SQLite: FTS5 trigram, FTS5 words as a pre-filter, or none; PostgreSQL: pg_trgm on closed days;
/// DuckDB: a scan of the body column).</item>
/// <item>A number value compares numerically with numeric fields and JSON numbers; <c>=</c> also matches the same text.</item>
/// <item><c>!=</c> and <c>NOT</c> match events without the field too (they negate "matches").</item>
/// <item><c>level</c> compares case-insensitively; <c>level &gt;= WARN</c> compares severity ranges.</item>
/// <item><c>time</c> takes an ISO-8601 instant (a value without zone is UTC).</item>
/// </list>
/// </summary>
public sealed class QueryCompiler
{
    private const int MinFullTextLength = 3;
    private readonly SqlDialect _dialect;
    private readonly bool _deadLetters;
    private readonly StringBuilder _sql = new();
    private readonly List<KeyValuePair<string, object>> _parameters = [];

    private readonly bool _scanText;
    private readonly SqliteFullText _fullText;
    private readonly IReadOnlyDictionary<string, BodyCandidates>? _bodyBlocks;

    private QueryCompiler(SqlDialect dialect, bool deadLetters, bool scanText, SqliteFullText fullText, IReadOnlyDictionary<string, BodyCandidates>? bodyBlocks)
    {
        _dialect = dialect;
        _deadLetters = deadLetters;
        _scanText = scanText;
        _fullText = fullText;
        _bodyBlocks = bodyBlocks;
    }

    private bool Pg => _dialect == SqlDialect.Postgres;

    /// <summary>Booleans are words in PostgreSQL and DuckDB, integers in SQLite.</summary>
    private string True => _dialect == SqlDialect.Sqlite ? "1" : "TRUE";

    private string False => _dialect == SqlDialect.Sqlite ? "0" : "FALSE";

    /// <summary>Compiles <paramref name="node"/> for <paramref name="dialect"/>, against events or dead letters.</summary>
    /// <exception cref="QuerySyntaxException">An unknown field, an operator the field does not support, or a bad time value.</exception>
    /// <param name="node">The parsed query.</param>
    /// <param name="dialect">The store's SQL.</param>
    /// <param name="deadLetters">Compile against <c>dead_letters</c> instead of <c>events</c>.</param>
    /// <param name="scanText">SQLite: test full-text terms row by row instead of through the FTS index (for a
    /// bounded scan of the newest rows, where that is faster than collecting every match of a common word).</param>
    /// <param name="fullText">SQLite: the full-text index the database has (default trigram, the index of databases
    /// written before the choice existed).</param>
    public static CompiledQuery Compile(QueryNode node, SqlDialect dialect, bool deadLetters = false, bool scanText = false, SqliteFullText fullText = SqliteFullText.Trigram) =>
        Compile(node, dialect, deadLetters, scanText, fullText, null);

    /// <summary>As the public overload, with <paramref name="bodyBlocks"/>.</summary>
    /// <param name="bodyBlocks">DuckDB: per full-text term, the time ranges of the blocks whose body filter may hold it
    /// (<see cref="BodyCandidates.Find"/>); a term found there is tested only inside those ranges.</param>
    internal static CompiledQuery Compile(
        QueryNode node, SqlDialect dialect, bool deadLetters, bool scanText, SqliteFullText fullText, IReadOnlyDictionary<string, BodyCandidates>? bodyBlocks)
    {
        ArgumentNullException.ThrowIfNull(node);
        var c = new QueryCompiler(dialect, deadLetters, scanText, fullText, bodyBlocks);
        c.Emit(node);
        return new CompiledQuery(c._sql.ToString(), c._parameters);
    }

    private void Emit(QueryNode node)
    {
        switch (node)
        {
            case MatchAll:
                _sql.Append(True);
                break;
            case AndNode:
                EmitBalanced(Chain(node), 0, " AND ");
                break;
            case OrNode:
                EmitBalanced(Chain(node), 0, " OR ");
                break;
            case NotNode n:
                EmitNot(() => Emit(n.Operand));
                break;
            case TextNode t:
                EmitFullText(t.Text);
                break;
            case CompareNode c when c.Operator == QueryOperator.NotEqual:
                EmitNot(() => EmitCompare(c with { Operator = QueryOperator.Equal }));
                break;
            case CompareNode c:
                EmitCompare(c);
                break;
            default:
                throw new ArgumentException($"Unknown query node {node.GetType().Name}.", nameof(node));
        }
    }

    /// <summary>
    /// The operands of a run of the same connective (the parser builds <c>a OR b OR c</c> left-deep), collected without
    /// recursion, in order.
    /// </summary>
    private static List<QueryNode> Chain(QueryNode root)
    {
        var operands = new List<QueryNode>();
        var pending = new Stack<QueryNode>();
        pending.Push(root);
        while (pending.TryPop(out var n))
        {
            if (n.GetType() == root.GetType() && n is AndNode or OrNode)
            {
                var (left, right) = n is AndNode a ? (a.Left, a.Right) : (((OrNode)n).Left, ((OrNode)n).Right);
                pending.Push(right);
                pending.Push(left);
            }
            else
            {
                operands.Add(n);
            }
        }

        return operands;
    }

    /// <summary>
    /// Emits <paramref name="operands"/> joined by <paramref name="connective"/> as a balanced tree: AND and OR are
    /// associative, and the SQL's expression depth (which SQLite caps at 1,000) then grows with log2 of the count, not
    /// the count.
    /// </summary>
    private void EmitBalanced(List<QueryNode> operands, int start, string connective, int count = -1)
    {
        count = count < 0 ? operands.Count : count;
        if (count == 1)
        {
            Emit(operands[start]);
            return;
        }

        var half = count / 2;
        _sql.Append('(');
        EmitBalanced(operands, start, connective, half);
        _sql.Append(connective);
        EmitBalanced(operands, start + half, connective, count - half);
        _sql.Append(')');
    }

    /// <summary>SQL NULL (a missing field) counts as "does not match", so its negation matches.</summary>
    private void EmitNot(Action operand)
    {
        _sql.Append("(NOT COALESCE(");
        operand();
        _sql.Append(", ").Append(False).Append("))");
    }

    private void EmitFullText(string text)
    {
        if (_deadLetters)
        {
            _sql.Append('(');
            EmitContains("raw_line", text);
            _sql.Append(" OR ");
            EmitContains("reason", text);
            _sql.Append(')');
        }
        else if (Pg)
        {
            // ILIKE '%…%' is what the pg_trgm GIN index on body serves.
            _sql.Append("body ILIKE ").Append(Param("%" + EscapeLike(text) + "%"));
        }
        else if (_dialect == SqlDialect.DuckDb && _bodyBlocks is not null && _bodyBlocks.TryGetValue(text, out var blocks))
        {
            EmitInBlocks(blocks, text);
        }
        else if (_dialect != SqlDialect.Sqlite || _scanText || _fullText == SqliteFullText.None)
        {
            EmitContains("body", text);
        }
        else if (_fullText == SqliteFullText.Trigram && text.Length >= MinFullTextLength)
        {
            // The FTS5 trigram index answers substring matches of three characters or more.
            _sql.Append("rowid IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ")
                .Append(Param("\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""))
                .Append(')');
        }
        else if (_fullText == SqliteFullText.Words && InnerWords(text) is { Count: > 0 } words)
        {
            // Every body holding the term holds its complete inner words as tokens: the index narrows the rows to
            // those (a superset), and the substring test keeps the exact answer.
            _sql.Append("(rowid IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ")
                .Append(Param(string.Join(" AND ", words.Select(static w => "\"" + w + "\""))))
                .Append(") AND ");
            EmitContains("body", text);
            _sql.Append(')');
        }
        else
        {
            EmitContains("body", text);
        }
    }

    /// <summary>
    /// DuckDB: the substring test, inside the time ranges of the blocks that may hold the term. Every row holding it lies
    /// in such a block, so the range test is implied by the substring test and the two together match exactly the rows
    /// the substring test alone does (under NOT and OR too); the ranges are constants, so DuckDB's zone maps skip the row
    /// groups outside them without reading their bodies. No block at all: FALSE, and nothing is read.
    /// </summary>
    private void EmitInBlocks(BodyCandidates blocks, string text)
    {
        if (blocks.Ranges.Count == 0)
        {
            _sql.Append(False);
            return;
        }

        _sql.Append("((");
        for (var i = 0; i < blocks.Ranges.Count; i++)
        {
            var (lo, hi) = blocks.Ranges[i];
            _sql.Append(i == 0 ? string.Empty : " OR ").Append("ts BETWEEN ").Append(Param(lo)).Append(" AND ").Append(Param(hi));
        }

        _sql.Append(") AND ");
        EmitContains("body", text);
        _sql.Append(')');
    }

    /// <summary>The full-text terms of <paramref name="node"/> (bare words and <c>body~</c> values), each once.</summary>
    public static HashSet<string> FullTextTerms(QueryNode node)
    {
        var terms = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<QueryNode>();
        pending.Push(node);
        while (pending.TryPop(out var n))
        {
            switch (n)
            {
                case AndNode a:
                    pending.Push(a.Left);
                    pending.Push(a.Right);
                    break;
                case OrNode o:
                    pending.Push(o.Left);
                    pending.Push(o.Right);
                    break;
                case NotNode x:
                    pending.Push(x.Operand);
                    break;
                case TextNode t:
                    terms.Add(t.Text);
                    break;
                case CompareNode { Operator: QueryOperator.Contains } c when c.Field.Equals("body", StringComparison.OrdinalIgnoreCase):
                    terms.Add(c.Value);
                    break;
            }
        }

        return terms;
    }

    /// <summary>
    /// The words of <paramref name="text"/> that any body containing it must hold as whole tokens of FTS5's
    /// <c>unicode61</c> tokenizer: runs of ASCII letters and digits with an ASCII space or punctuation character on
    /// both sides inside the term (punctuation and spaces separate tokens there). The first and last runs are
    /// excluded unless bounded, since the body may extend them ("item" in "/item/" is a token; "item" alone may be
    /// part of "items").
    /// </summary>
    internal static List<string> InnerWords(string text)
    {
        static bool IsWord(char c) => char.IsAsciiLetterOrDigit(c);
        static bool IsSeparator(char c) => char.IsAscii(c) && (char.IsWhiteSpace(c) || char.IsPunctuation(c));
        var words = new List<string>();
        var i = 0;
        while (i < text.Length)
        {
            if (!IsWord(text[i]))
            {
                i++;
                continue;
            }

            var start = i;
            while (i < text.Length && IsWord(text[i]))
            {
                i++;
            }

            if (start > 0 && IsSeparator(text[start - 1]) && i < text.Length && IsSeparator(text[i]))
            {
                words.Add(text[start..i]);
            }
        }

        return words;
    }

    /// <summary>
    /// A case-insensitive substring test. lower() builds a new string per row (in DuckDB most of a rare word's scan); a
    /// term of ASCII characters none of which is a letter (an address, a number, a path of digits) matches the same
    /// rows without it: lower() keeps every such character, and no character lowers to one of them.
    /// </summary>
    private void EmitContains(string textExpression, string value)
    {
        var p = Param(value);
        if (Ascii.IsValid(value) && !value.AsSpan().ContainsAnyInRange('A', 'Z') && !value.AsSpan().ContainsAnyInRange('a', 'z'))
        {
            _sql.Append(_dialect switch
            {
                SqlDialect.Postgres => $"(strpos({textExpression}, {p}) > 0)",
                SqlDialect.DuckDb => $"contains({textExpression}, {p})",
                _ => $"(instr({textExpression}, {p}) > 0)",
            });
            return;
        }

        _sql.Append(_dialect switch
        {
            SqlDialect.Postgres => $"(strpos(lower({textExpression}), lower({p})) > 0)",
            SqlDialect.DuckDb => $"contains(lower({textExpression}), lower({p}))",
            _ => $"(instr(lower({textExpression}), lower({p})) > 0)",
        });
    }

    private void EmitCompare(CompareNode c)
    {
        var field = c.Field;
        if (_deadLetters)
        {
            EmitDeadLetterCompare(c);
            return;
        }

        switch (field.ToLowerInvariant())
        {
            case "body":
                if (c.Operator == QueryOperator.Contains)
                {
                    EmitFullText(c.Value);
                }
                else
                {
                    EmitText("body", c);
                }

                return;
            case "id":
                EmitText("id", c);
                return;
            case "source":
                EmitText("source", c);
                return;
            case "level" or "severity_text":
                EmitLevel(c);
                return;
            case "severity" or "severity_number":
                EmitNumeric("severity_number", c);
                return;
            case "status" or SemanticNames.HttpResponseStatusCode:
                EmitNumeric("status", c);
                return;
            case "method" or SemanticNames.HttpRequestMethod:
                EmitText("method", c);
                return;
            case "client" or SemanticNames.ClientAddress:
                EmitText("client", c);
                return;
            case "url" or SemanticNames.UrlOriginal:
                EmitText("url", c);
                return;
            case "ua" or SemanticNames.UserAgentOriginal:
                EmitText("user_agent", c);
                return;
            case "time" or "timestamp":
                EmitTime("ts", c);
                return;
            case "trace_id" or "traceid":
                EmitText("trace_id", c);
                return;
            case "span_id" or "spanid":
                EmitText("span_id", c);
                return;
            case "event_name":
                EmitText("event_name", c);
                return;
            default:
                EmitAttribute(c);
                return;
        }
    }

    private void EmitDeadLetterCompare(CompareNode c)
    {
        switch (c.Field.ToLowerInvariant())
        {
            case "id":
                EmitText("id", c);
                break;
            case "source":
                EmitText("source", c);
                break;
            case "parser":
                EmitText("parser", c);
                break;
            case "reason":
                EmitText("reason", c);
                break;
            case "raw" or "raw_line" or "body" or "line":
                EmitText("raw_line", c);
                break;
            case "time" or "timestamp":
                EmitTime("time", c);
                break;
            default:
                throw new QuerySyntaxException(c.FieldColumn, $"unknown dead-letter field '{c.Field}'; expected id, source, parser, reason, raw or time");
        }
    }

    private void EmitText(string column, CompareNode c)
    {
        if (c.Operator == QueryOperator.Contains)
        {
            EmitContains(column, c.Value);
            return;
        }

        _sql.Append('(').Append(column).Append(' ').Append(SqlOperator(c.Operator)).Append(' ').Append(Param(c.Value)).Append(')');
    }

    private void EmitNumeric(string column, CompareNode c)
    {
        if (c.Number is { } n && c.Operator != QueryOperator.Contains)
        {
            _sql.Append('(').Append(column).Append(' ').Append(SqlOperator(c.Operator)).Append(' ').Append(Param(n)).Append(')');
            return;
        }

        EmitText(_dialect switch
        {
            SqlDialect.Postgres => $"{column}::text",
            SqlDialect.DuckDb => $"CAST({column} AS VARCHAR)",
            _ => $"CAST({column} AS TEXT)",
        }, c);
    }

    private void EmitLevel(CompareNode c)
    {
        if (c.Operator is QueryOperator.Greater or QueryOperator.GreaterOrEqual or QueryOperator.Less or QueryOperator.LessOrEqual
            && SeverityRange(c.Value) is { } range)
        {
            // Ordering by level compares severity numbers: "> WARN" is above the WARN range, ">= WARN" from its start.
            var bound = c.Operator is QueryOperator.Greater or QueryOperator.LessOrEqual ? range + 3 : range;
            _sql.Append("(severity_number ").Append(SqlOperator(c.Operator)).Append(' ').Append(Param((double)bound)).Append(')');
            return;
        }

        if (c.Operator == QueryOperator.Contains)
        {
            EmitContains("severity_text", c.Value);
            return;
        }

        _sql.Append("(upper(severity_text) ").Append(SqlOperator(c.Operator)).Append(" upper(").Append(Param(c.Value)).Append("))");
    }

    private static int? SeverityRange(string name) => name.ToUpperInvariant() switch
    {
        "TRACE" => Severity.Trace,
        "DEBUG" => Severity.Debug,
        "INFO" => Severity.Info,
        "WARN" or "WARNING" => Severity.Warn,
        "ERROR" => Severity.Error,
        "FATAL" => Severity.Fatal,
        _ => null,
    };

    private void EmitTime(string column, CompareNode c)
    {
        if (c.Operator == QueryOperator.Contains)
        {
            throw new QuerySyntaxException(c.ValueColumn - 1, $"'~' does not apply to '{c.Field}'; expected one of = != > >= < <=");
        }

        if (!DateTimeOffset.TryParse(c.Value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
        {
            throw new QuerySyntaxException(c.ValueColumn, $"expected an ISO-8601 time after '{c.Field}', found '{c.Value}'");
        }

        object value = _dialect == SqlDialect.Sqlite ? StoredEvent.ToUnixMicros(t) : t.UtcDateTime;
        _sql.Append('(').Append(column).Append(' ').Append(SqlOperator(c.Operator)).Append(' ').Append(Param(value)).Append(')');
    }

    private void EmitAttribute(CompareNode c)
    {
        foreach (var ch in c.Field)
        {
            if (!(char.IsLetterOrDigit(ch) || ch is '.' or '_' or '-' or '@' or ':' or '/'))
            {
                throw new QuerySyntaxException(c.FieldColumn, $"expected a field name (letters, digits, '.', '_', '-'), found '{c.Field}'");
            }
        }

        // The key (SQLite: a JSON path) is a parameter, like the value.
        var key = Param(Pg ? c.Field : "$.\"" + c.Field + "\"");
        var asText = _dialect switch
        {
            SqlDialect.Postgres => $"(attributes ->> {key})",
            SqlDialect.DuckDb => $"json_extract_string(attributes, {key})",
            _ => $"(CASE json_type(attributes, {key}) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN NULL ELSE CAST(json_extract(attributes, {key}) AS TEXT) END)",
        };
        var asNumber = _dialect switch
        {
            SqlDialect.Postgres => $"(CASE WHEN jsonb_typeof(attributes -> {key}) = 'number' THEN (attributes ->> {key})::float8 END)",
            SqlDialect.DuckDb => $"(CASE WHEN json_type(attributes, {key}) IN ('UBIGINT', 'BIGINT', 'DOUBLE') THEN CAST(json_extract_string(attributes, {key}) AS DOUBLE) END)",
            _ => $"(CASE WHEN json_type(attributes, {key}) IN ('integer', 'real') THEN json_extract(attributes, {key}) END)",
        };
        if (c.Operator == QueryOperator.Contains)
        {
            EmitContains(asText, c.Value);
        }
        else if (c.Number is { } n && c.Operator == QueryOperator.Equal)
        {
            _sql.Append($"({asNumber} = {Param(n)} OR {asText} = {Param(c.Value)})");
        }
        else if (c.Number is { } m)
        {
            _sql.Append($"({asNumber} {SqlOperator(c.Operator)} {Param(m)})");
        }
        else
        {
            _sql.Append($"({asText} {SqlOperator(c.Operator)} {Param(c.Value)})");
        }
    }

    /// <summary>
    /// True when the query has full-text terms and every one is ASCII: then a row-by-row test (ASCII case folding)
    /// answers exactly like the FTS index, and a bounded newest-first scan may replace it.
    /// </summary>
    public static bool HasOnlyAsciiFullText(QueryNode node)
    {
        var found = false;
        bool Visit(QueryNode n) => n switch
        {
            AndNode a => Visit(a.Left) && Visit(a.Right),
            OrNode o => Visit(o.Left) && Visit(o.Right),
            NotNode x => Visit(x.Operand),
            TextNode t => (found = true) && System.Text.Ascii.IsValid(t.Text),
            CompareNode { Operator: QueryOperator.Contains } c when c.Field.Equals("body", StringComparison.OrdinalIgnoreCase)
                => (found = true) && System.Text.Ascii.IsValid(c.Value),
            _ => true,
        };
        return Visit(node) && found;
    }

    private static string SqlOperator(QueryOperator op) => op switch
    {
        QueryOperator.Equal => "=",
        QueryOperator.NotEqual => "<>",
        QueryOperator.Greater => ">",
        QueryOperator.GreaterOrEqual => ">=",
        QueryOperator.Less => "<",
        QueryOperator.LessOrEqual => "<=",
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "Contains has no single SQL operator."),
    };

    private static string EscapeLike(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);

    private string Param(object value)
    {
        var name = string.Create(CultureInfo.InvariantCulture, $"{(Pg ? '@' : '$')}q{_parameters.Count}");
        _parameters.Add(new(name, value));
        return name;
    }
}
