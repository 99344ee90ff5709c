using Conveyor.Logs.Query;

namespace Conveyor.Logs.Tests.Query;

public sealed class QueryParserTests
{
    [Fact]
    public void Parse_ImplicitAndBindsTighterThanOr_GroupsRightSide()
    {
        var node = QueryParser.Parse("a OR b c");
        var or = Assert.IsType<OrNode>(node);
        Assert.Equal(new TextNode("a"), or.Left);
        Assert.Equal(new AndNode(new TextNode("b"), new TextNode("c")), or.Right);
    }

    [Fact]
    public void Parse_KeywordsAnyCase_AreOperators()
    {
        var node = QueryParser.Parse("not a and b or c");
        Assert.Equal(new OrNode(new AndNode(new NotNode(new TextNode("a")), new TextNode("b")), new TextNode("c")), node);
    }

    [Fact]
    public void Parse_QuotedStringsWithEscapes_KeepTheirText()
    {
        var node = Assert.IsType<CompareNode>(QueryParser.Parse("url = \"/a \\\"b\\\" c\""));
        Assert.Equal("/a \"b\" c", node.Value);
        Assert.Null(node.Number);
        Assert.Equal(new TextNode("it's"), QueryParser.Parse("'it\\'s'"));
    }

    [Fact]
    public void Parse_UnquotedNumber_IsNumeric()
    {
        var node = Assert.IsType<CompareNode>(QueryParser.Parse("http.response.body.size>=1.5e3"));
        Assert.Equal(QueryOperator.GreaterOrEqual, node.Operator);
        Assert.Equal(1500d, node.Number);
        Assert.Equal(1, node.FieldColumn);
        Assert.Equal(26, node.ValueColumn);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("*")]
    [InlineData(null)]
    public void Parse_EmptyOrStar_MatchesAll(string? text) => Assert.Same(MatchAll.Instance, QueryParser.Parse(text));

    [Theory]
    [InlineData("AND b", 1, "expected a term before 'AND'")]
    [InlineData("a OR", 5, "expected a term after 'OR'")]
    [InlineData("NOT", 4, "expected a term after 'NOT'")]
    [InlineData("()", 2, "expected a term inside")]
    [InlineData("status = OR", 10, "expected a value after '='")]
    [InlineData("a = (b)", 5, "expected a value after '='")]
    public void Parse_Mistake_ReportsColumn(string text, int column, string expected)
    {
        var e = Assert.Throws<QuerySyntaxException>(() => QueryParser.Parse(text));
        Assert.Equal(column, e.Column);
        Assert.Contains(expected, e.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(15_000)]
    [InlineData(QueryParser.MaxDepth + 1)]
    public void Parse_ParenthesesNestedPastTheLimit_NamesTheLimitWithoutRecursingFurther(int depth)
    {
        var text = new string('(', depth) + "a" + new string(')', depth);
        var e = Assert.Throws<QuerySyntaxException>(() => QueryParser.Parse(text));
        Assert.Equal(QueryParser.MaxDepth + 1, e.Column);
        Assert.Contains($"the limit is {QueryParser.MaxDepth}", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_NotsPastTheLimit_NamesTheLimit()
    {
        var e = Assert.Throws<QuerySyntaxException>(() => QueryParser.Parse(string.Concat(Enumerable.Repeat("NOT ", 500)) + "a"));
        Assert.Contains("nested deeper than 64", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_AtTheDepthLimit_Parses()
    {
        var text = string.Concat(Enumerable.Repeat("NOT (", QueryParser.MaxDepth / 2)) + "a" + new string(')', QueryParser.MaxDepth / 2);
        var node = QueryParser.Parse(text);
        for (var i = 0; i < QueryParser.MaxDepth / 2; i++)
        {
            node = Assert.IsType<NotNode>(node).Operand;
        }

        Assert.Equal(new TextNode("a"), node);
    }

    [Fact]
    public void Parse_MoreTermsThanTheLimit_NamesTheLimit()
    {
        Assert.IsType<OrNode>(QueryParser.Parse(string.Join(" OR ", Enumerable.Range(0, QueryParser.MaxTerms).Select(i => $"w{i}"))));
        var e = Assert.Throws<QuerySyntaxException>(() => QueryParser.Parse(string.Join(" OR ", Enumerable.Range(0, 10_000).Select(i => $"w{i}"))));
        Assert.Contains($"more than {QueryParser.MaxTerms} terms", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_LongOrChain_NestsLogarithmically()
    {
        var compiled = QueryCompiler.Compile(QueryParser.Parse(string.Join(" OR ", Enumerable.Range(0, QueryParser.MaxTerms).Select(i => $"status = {i}"))), SqlDialect.Sqlite);
        var depth = 0;
        var deepest = 0;
        foreach (var c in compiled.Where)
        {
            depth += c == '(' ? 1 : c == ')' ? -1 : 0;
            deepest = Math.Max(deepest, depth);
        }

        Assert.InRange(deepest, 10, 16);
    }

    [Fact]
    public void Compile_InjectionInFieldAndValue_OnlyParametersCarryUserText()
    {
        var compiled = QueryCompiler.Compile(QueryParser.Parse("x.y = \"'; DROP TABLE events; --\" \"/* c */\""), SqlDialect.Sqlite);
        Assert.DoesNotContain("DROP", compiled.Where, StringComparison.Ordinal);
        Assert.DoesNotContain("/*", compiled.Where, StringComparison.Ordinal);
        Assert.DoesNotContain("x.y", compiled.Where, StringComparison.Ordinal);
        Assert.Contains(compiled.Parameters, p => (string)p.Value == "'; DROP TABLE events; --");
        Assert.Contains(compiled.Parameters, p => (string)p.Value == "$.\"x.y\"");
    }
}
