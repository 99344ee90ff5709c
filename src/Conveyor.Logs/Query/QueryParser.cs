using System.Globalization;
using System.Text;

namespace Conveyor.Logs.Query;

/// <summary>
/// Parses the query language of docs/REFERENCE.md ("Query language") into a <see cref="QueryNode"/> tree. Grammar (keywords case-insensitive):
/// <code>
/// query   := or | "*" | (empty)
/// or      := and ("OR" and)*
/// and     := unary (["AND"] unary)*          adjacent terms are ANDed
/// unary   := "NOT" unary | "(" or ")" | term
/// term    := FIELD OP value | WORD | STRING   a lone word or string is full-text search over body
/// OP      := = | != | &gt; | &gt;= | &lt; | &lt;= | ~
/// value   := WORD | STRING                    "..." or '...' with backslash escapes
/// </code>
/// A query nests at most <see cref="MaxDepth"/> levels (each <c>(</c> and each <c>NOT</c> is one) and has at most
/// <see cref="MaxTerms"/> terms: beyond either the parser stops at once with a <see cref="QuerySyntaxException"/> naming
/// the limit, so no query can exhaust the parser's stack nor reach a store that cannot plan it (SQLite refuses
/// expressions deeper than 1,000; <see cref="QueryCompiler"/> keeps AND/OR chains balanced so their SQL depth grows with
/// the logarithm of the term count).
/// </summary>
public static class QueryParser
{
    /// <summary>The deepest nesting accepted: parentheses and <c>NOT</c>s open at once. 64.</summary>
    public const int MaxDepth = 64;

    /// <summary>The most terms (comparisons and full-text words) in one query. 1,000.</summary>
    public const int MaxTerms = 1_000;

    /// <summary>Parses <paramref name="text"/>; null or blank (or <c>*</c>) is <see cref="MatchAll"/>.</summary>
    /// <exception cref="QuerySyntaxException">The text is not a query; the message has the column and what was expected.</exception>
    public static QueryNode Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Trim() == "*")
        {
            return MatchAll.Instance;
        }

        var state = new State(Tokenize(text), text.Length);
        var node = ParseOr(state);
        var next = state.Peek;
        if (next.Kind == TokenKind.RightParen)
        {
            throw new QuerySyntaxException(next.Column, "unexpected ')' without a matching '('");
        }

        if (next.Kind != TokenKind.End)
        {
            throw new QuerySyntaxException(next.Column, $"unexpected {Describe(next)}");
        }

        return node;
    }

    private static QueryNode ParseOr(State s)
    {
        var left = ParseAnd(s);
        while (s.Peek.IsKeyword("OR"))
        {
            var op = s.Next();
            EnsureOperand(s, op);
            left = new OrNode(left, ParseAnd(s));
        }

        return left;
    }

    private static QueryNode ParseAnd(State s)
    {
        var left = ParseUnary(s);
        while (true)
        {
            var t = s.Peek;
            if (t.IsKeyword("AND"))
            {
                s.Next();
                EnsureOperand(s, t);
                left = new AndNode(left, ParseUnary(s));
            }
            else if (t.Kind is TokenKind.Word or TokenKind.String or TokenKind.LeftParen && !t.IsKeyword("OR"))
            {
                left = new AndNode(left, ParseUnary(s));
            }
            else
            {
                return left;
            }
        }
    }

    private static QueryNode ParseUnary(State s)
    {
        var t = s.Peek;
        if (t.IsKeyword("NOT"))
        {
            s.Next();
            EnsureOperand(s, t);
            s.Enter(t);
            var operand = ParseUnary(s);
            s.Depth--;
            return new NotNode(operand);
        }

        if (t.Kind == TokenKind.LeftParen)
        {
            s.Next();
            s.Enter(t);
            if (s.Peek.Kind == TokenKind.RightParen)
            {
                throw new QuerySyntaxException(s.Peek.Column, "expected a term inside '(' ')'");
            }

            var inner = ParseOr(s);
            var close = s.Peek;
            if (close.Kind != TokenKind.RightParen)
            {
                throw new QuerySyntaxException(close.Column, $"expected ')' to close the '(' at column {t.Column}, found {Describe(close)}");
            }

            s.Next();
            s.Depth--;
            return inner;
        }

        if (++s.Terms > MaxTerms)
        {
            throw new QuerySyntaxException(t.Column, $"more than {MaxTerms} terms; the limit is {MaxTerms}");
        }

        return ParseTerm(s);
    }

    private static QueryNode ParseTerm(State s)
    {
        var t = s.Next();
        switch (t.Kind)
        {
            case TokenKind.String:
                return new TextNode(t.Text);
            case TokenKind.Word when IsKeyword(t.Text):
                throw new QuerySyntaxException(t.Column, $"expected a term before '{t.Text}'");
            case TokenKind.Word:
                if (s.Peek.Kind != TokenKind.Operator)
                {
                    return t.Text == "*" ? MatchAll.Instance : new TextNode(t.Text);
                }

                var op = s.Next();
                var value = s.Peek;
                if (value.Kind is not (TokenKind.Word or TokenKind.String) || (value.Kind == TokenKind.Word && IsKeyword(value.Text)))
                {
                    throw new QuerySyntaxException(value.Column, $"expected a value after '{op.Text}', found {Describe(value)}");
                }

                s.Next();
                double? number = value.Kind == TokenKind.Word
                    && double.TryParse(value.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) ? d : null;
                return new CompareNode(t.Text, ToOperator(op.Text), value.Text, number, t.Column, value.Column);
            case TokenKind.Operator:
                throw new QuerySyntaxException(t.Column, $"expected a field name before '{t.Text}'");
            case TokenKind.End:
                throw new QuerySyntaxException(t.Column, "expected a term, found the end of the query");
            default:
                throw new QuerySyntaxException(t.Column, $"expected a term, found {Describe(t)}");
        }
    }

    private static void EnsureOperand(State s, Token keyword)
    {
        var next = s.Peek;
        if (next.Kind is TokenKind.End or TokenKind.RightParen || next.IsKeyword("AND") || next.IsKeyword("OR"))
        {
            throw new QuerySyntaxException(next.Column, $"expected a term after '{keyword.Text}', found {Describe(next)}");
        }
    }

    private static QueryOperator ToOperator(string op) => op switch
    {
        "=" => QueryOperator.Equal,
        "!=" => QueryOperator.NotEqual,
        ">" => QueryOperator.Greater,
        ">=" => QueryOperator.GreaterOrEqual,
        "<" => QueryOperator.Less,
        "<=" => QueryOperator.LessOrEqual,
        _ => QueryOperator.Contains,
    };

    private static bool IsKeyword(string word) =>
        word.Equals("AND", StringComparison.OrdinalIgnoreCase) || word.Equals("OR", StringComparison.OrdinalIgnoreCase) || word.Equals("NOT", StringComparison.OrdinalIgnoreCase);

    private static string Describe(Token t) => t.Kind switch
    {
        TokenKind.End => "the end of the query",
        TokenKind.String => "a quoted string",
        _ => $"'{t.Text}'",
    };

    private static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            var column = i + 1;
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c == '(')
            {
                tokens.Add(new Token(TokenKind.LeftParen, "(", column));
                i++;
            }
            else if (c == ')')
            {
                tokens.Add(new Token(TokenKind.RightParen, ")", column));
                i++;
            }
            else if (c is '"' or '\'')
            {
                var sb = new StringBuilder();
                i++;
                var closed = false;
                while (i < text.Length)
                {
                    var d = text[i];
                    if (d == '\\' && i + 1 < text.Length)
                    {
                        sb.Append(text[i + 1]);
                        i += 2;
                    }
                    else if (d == c)
                    {
                        i++;
                        closed = true;
                        break;
                    }
                    else
                    {
                        sb.Append(d);
                        i++;
                    }
                }

                if (!closed)
                {
                    throw new QuerySyntaxException(column, $"expected a closing {c} for the string starting here");
                }

                tokens.Add(new Token(TokenKind.String, sb.ToString(), column));
            }
            else if (c is '=' or '~' or '<' or '>' or '!')
            {
                if (c == '!' && (i + 1 >= text.Length || text[i + 1] != '='))
                {
                    throw new QuerySyntaxException(column, "expected '=' after '!'");
                }

                var two = i + 1 < text.Length && text[i + 1] == '=' && c is '!' or '<' or '>';
                tokens.Add(new Token(TokenKind.Operator, text.Substring(i, two ? 2 : 1), column));
                i += two ? 2 : 1;
            }
            else
            {
                var start = i;
                while (i < text.Length && !char.IsWhiteSpace(text[i]) && text[i] is not ('(' or ')' or '"' or '\'' or '=' or '~' or '<' or '>' or '!'))
                {
                    i++;
                }

                tokens.Add(new Token(TokenKind.Word, text[start..i], column));
            }
        }

        return tokens;
    }

    private enum TokenKind
    {
        Word,
        String,
        Operator,
        LeftParen,
        RightParen,
        End,
    }

    private readonly record struct Token(TokenKind Kind, string Text, int Column)
    {
        public bool IsKeyword(string keyword) => Kind == TokenKind.Word && Text.Equals(keyword, StringComparison.OrdinalIgnoreCase);
    }

    private sealed class State(List<Token> tokens, int length)
    {
        private int _position;

        /// <summary>Parentheses and NOTs open at the current position; the recursion depth is a small multiple of it.</summary>
        public int Depth { get; set; }

        /// <summary>Terms parsed so far.</summary>
        public int Terms { get; set; }

        /// <summary>Opens one nesting level at <paramref name="at"/>, refusing the one past <see cref="MaxDepth"/> before recursing.</summary>
        public void Enter(Token at)
        {
            if (++Depth > MaxDepth)
            {
                throw new QuerySyntaxException(at.Column, $"nested deeper than {MaxDepth} levels of '(' and NOT; the limit is {MaxDepth}");
            }
        }

        public Token Peek => _position < tokens.Count ? tokens[_position] : new Token(TokenKind.End, string.Empty, length + 1);

        public Token Next()
        {
            var t = Peek;
            _position++;
            return t;
        }
    }
}
