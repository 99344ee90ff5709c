using System.Net;
using Conveyor.Cli.Tests.Service;

namespace Conveyor.Cli.Tests.Faults;

/// <summary>Finding 6: a query string can never make <c>/api/search</c> answer 500, nor crash <c>conveyor query</c>.</summary>
public sealed class QueryFaultTests
{
    [Fact]
    public async Task Search_DeeplyNestedOrHugeQueries_Answer400NamingTheLimit_AndTheWidestAllowedRuns()
    {
        await using var service = await FaultService.StartAsync();
        using (var posted = await service.Client.PostAsync("/ingest", Senders.Body([Senders.AccessLine("timeout", 1), Senders.AccessLine("fine", 2)])))
        {
            Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
        }

        await TestWait.UntilAsync(async () => (await Senders.CountAsync(service.Db)).Events == 2, TimeSpan.FromSeconds(30), "two stored events");
        // Kestrel caps the request line at 8 KiB, so these are the deepest and widest a URL can carry.
        await Expect400(service.Client, string.Concat(Enumerable.Repeat("NOT ", 500)) + "timeout", "the limit is 64");
        await Expect400(service.Client, new string('(', 1_200) + "timeout" + new string(')', 1_200), "the limit is 64");
        await Expect400(service.Client, string.Join(' ', Enumerable.Repeat("a", 1_001)), "the limit is 1000");

        // Many ORed terms under 32 NOTs and 32 parentheses: what the parser accepts, the store plans.
        var wide = string.Join(" OR ", Enumerable.Range(1000, 250).Select(i => $"status={i}")) + " OR timeout";
        var deep = string.Concat(Enumerable.Repeat("NOT (", 32)) + wide + new string(')', 32);
        using var response = await service.Client.GetAsync("/api/search?q=" + Uri.EscapeDataString(deep));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {body}");
        Assert.Contains("/timeout/1", body, StringComparison.Ordinal);
        Assert.DoesNotContain("/fine/2", body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("parens", "the limit is 64")]
    [InlineData("or", "the limit is 1000")]
    public async Task Query_FifteenThousandParenthesesOrTenThousandTerms_ExitsTwoNamingTheLimit(string shape, string reason)
    {
        var dir = ConveyorProcess.TempDirectory();
        var expression = shape == "parens"
            ? new string('(', 15_000) + "a" + new string(')', 15_000)
            : string.Join(" OR ", Enumerable.Range(0, 10_000).Select(i => $"w{i}"));
        await using var query = ConveyorProcess.Start(dir, ["query", "--store", "sqlite:" + Path.Combine(dir, "none.db"), expression]);
        Assert.Equal(2, await query.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains(reason, query.Stderr, StringComparison.Ordinal);
    }

    private static async Task Expect400(HttpClient client, string q, string reason)
    {
        using var response = await client.GetAsync("/api/search?q=" + Uri.EscapeDataString(q));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{response.StatusCode}: {body}");
        Assert.Contains(reason, body, StringComparison.Ordinal);
    }
}
