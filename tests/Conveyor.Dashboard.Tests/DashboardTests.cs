using System.Globalization;
using System.Net;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Conveyor.Dashboard.Tests;

/// <summary>The dashboard at <c>GET /</c> of a real <c>conveyor run</c>, in headless Chromium.</summary>
public sealed class DashboardTests(DashboardFixture fixture) : IClassFixture<DashboardFixture>
{
    /// <summary>Resolves once <c>/api/search</c> has at least <c>n</c> matches for <c>q</c>: waits on the store, not on a clock.</summary>
    private const string StoredAtLeast = """
        async ([q, n, dead]) => {
          const r = await fetch('/api/search?limit=100&q=' + encodeURIComponent(q) + (dead ? '&dead_letters=true' : ''));
          return r.ok && (await r.json()).count >= n;
        }
        """;

    private static readonly PageWaitForFunctionOptions Poll = new() { PollingInterval = 100, Timeout = 15_000 };

    private static string NewTag() => "t" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>Opens the dashboard once <paramref name="n"/> records matching <paramref name="tag"/> are stored, and searches for them in <paramref name="tab"/>.</summary>
    private async Task<TestPage> SearchStoredAsync(string tag, int n, string tab = "#tab-search")
    {
        var t = await fixture.NewPageAsync();
        await t.Page.GotoAsync("/");
        await t.Page.WaitForFunctionAsync(StoredAtLeast, new object[] { tag, n, tab == "#tab-dead" }, Poll);
        await RunSearchAsync(t, tab, tag);
        return t;
    }

    private static async Task RunSearchAsync(TestPage t, string tab, string query)
    {
        await t.Page.ClickAsync(tab);
        await t.Page.FillAsync("#q", query);
        await t.Page.PressAsync("#q", "Enter");
    }

    [Theory]
    [InlineData("")]
    [InlineData("app.js")]
    [InlineData("app.css")]
    [InlineData("vendor/uplot/uPlot.iife.min.js")]
    public async Task Assets_Served_WithStrictCspAndNoSniff(string path)
    {
        using var r = await fixture.Http.GetAsync(new Uri(path, UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var csp = Assert.Single(r.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-", csp, StringComparison.Ordinal);
        Assert.Equal("nosniff", Assert.Single(r.Headers.GetValues("X-Content-Type-Options")));
    }

    [Fact]
    public async Task Pipeline_WhileLinesArrive_NumbersMoveWithoutConsoleErrors()
    {
        await using var t = await fixture.NewPageAsync();
        await t.Page.GotoAsync("/");
        var received = t.Page.Locator("[data-name='main'] dd[data-field='received']");
        await Expect(received).ToBeVisibleAsync();
        await Expect(t.Page.Locator("#graph g.node[data-name='main']")).ToBeVisibleAsync();

        for (var round = 0; round < 2; round++)
        {
            var before = long.Parse((await received.TextContentAsync())!, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
            await fixture.IngestAsync(Enumerable.Range(0, 300).Select(i => DashboardFixture.AccessLine($"/move/{round}/{i}")));
            await t.Page.WaitForFunctionAsync(
                "n => Number(document.querySelector(\"[data-name='main'] dd[data-field='received']\").textContent.replace(/,/g, '')) >= n",
                before + 300,
                Poll);
        }

        // The rate tile and the sink's stored count follow: the page redraws from live data, not once.
        await t.Page.WaitForFunctionAsync("() => [...document.querySelectorAll('[data-sink] dd[data-field=\"stored\"]')].some(d => Number(d.textContent.replace(/,/g, '')) >= 600)", null, Poll);
        await Expect(t.Page.Locator("#sum-in b")).Not.ToHaveTextAsync("0");
        await Expect(t.Page.Locator(".stage .check").First).ToContainTextAsync("balanced");
        await t.Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(DashboardFixture.ArtifactsDirectory, "pipeline.png"), FullPage = true });
        Assert.Empty(t.Errors);
    }

    [Fact]
    public async Task Search_PostedLines_ReturnsThemAndShowsDetail()
    {
        var tag = NewTag();
        await fixture.IngestAsync(Enumerable.Range(1, 3).Select(i => DashboardFixture.AccessLine($"/{tag}/{i}", status: 500 + i)));
        await using var t = await SearchStoredAsync(tag, 3);
        var rows = t.Page.Locator("#results-body tr");
        await Expect(rows).ToHaveCountAsync(3);
        var bodies = await t.Page.Locator("#results-body td.body").AllTextContentsAsync();
        Assert.Equal([$"/{tag}/1", $"/{tag}/2", $"/{tag}/3"], bodies.Select(b => b.Split(' ')[6]).Order(StringComparer.Ordinal));

        await rows.Nth(0).ClickAsync();
        await Expect(t.Page.Locator("#detail")).ToBeVisibleAsync();
        await Expect(t.Page.Locator("#detail-fields")).ToContainTextAsync($"/{tag}/");
        await Expect(t.Page.Locator("#detail-fields dt", new PageLocatorOptions { HasTextString = "attributes." }).First).ToBeVisibleAsync();
        Assert.Empty(t.Errors);
    }

    [Fact]
    public async Task Search_MoreThanAPage_PagesOlderAndNewer()
    {
        var tag = NewTag();
        await fixture.IngestAsync(Enumerable.Range(0, 62).Select(i => DashboardFixture.AccessLine($"/{tag}/{i}")));
        await using var t = await SearchStoredAsync(tag, 62);
        var rows = t.Page.Locator("#results-body tr");
        await Expect(rows).ToHaveCountAsync(50);
        var first = await t.Page.Locator("#results-body td.body").AllTextContentsAsync();
        await Expect(t.Page.Locator("#newer")).ToBeDisabledAsync();

        await t.Page.ClickAsync("#older");
        await Expect(rows).ToHaveCountAsync(12);
        await Expect(t.Page.Locator("#older")).ToBeDisabledAsync();
        var second = await t.Page.Locator("#results-body td.body").AllTextContentsAsync();
        Assert.Equal(62, first.Concat(second).Distinct().Count());

        await t.Page.ClickAsync("#newer");
        await Expect(rows).ToHaveCountAsync(50);
        Assert.Equal(first, await t.Page.Locator("#results-body td.body").AllTextContentsAsync());
        Assert.Empty(t.Errors);
    }

    [Fact]
    public async Task Search_HostileUserAgents_RenderAsTextAndRunNothing()
    {
        var tag = NewTag();
        string[] agents = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>"];
        await fixture.IngestAsync(agents.Select((ua, i) => DashboardFixture.AccessLine($"/{tag}/{i}", ua)));
        await using var t = await SearchStoredAsync(tag, 2);
        var rows = t.Page.Locator("#results-body tr");
        await Expect(rows).ToHaveCountAsync(2);
        var bodies = string.Join('\n', await t.Page.Locator("#results-body td.body").AllTextContentsAsync());
        foreach (var ua in agents)
        {
            Assert.Contains(ua, bodies, StringComparison.Ordinal);
        }

        for (var i = 0; i < 2; i++)
        {
            await rows.Nth(i).ClickAsync();
            await Expect(t.Page.Locator("#detail-fields")).ToContainTextAsync("<");
        }

        await Expect(t.Page.Locator("#results script, #results img, #detail script, #detail img")).ToHaveCountAsync(0);
        Assert.Equal(2, await t.Page.Locator("script").CountAsync());
        Assert.Empty(t.Dialogs);
        Assert.Empty(t.Errors);
    }

    [Fact]
    public async Task Search_BadQuery_ShowsCaretUnderColumn()
    {
        await using var t = await fixture.NewPageAsync();
        await t.Page.GotoAsync("/");
        await RunSearchAsync(t, "#tab-search", "status >=");
        await Expect(t.Page.Locator("#q-error")).ToBeVisibleAsync();
        await Expect(t.Page.Locator("#q-message")).ToContainTextAsync("column 10");
        Assert.Equal("status >=", await t.Page.Locator("#q-echo").TextContentAsync());
        Assert.Equal(new string(' ', 9) + "^", await t.Page.Locator("#q-caret").TextContentAsync());
        await Expect(t.Page.Locator("#q")).ToHaveAttributeAsync("aria-invalid", "true");

        // The only console error allowed is the browser's own note of the 400.
        Assert.All(t.Errors, e => Assert.Contains("400", e, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Search_Histogram_CountsEveryMatchAndADragNarrowsTheRange()
    {
        var tag = NewTag();
        await fixture.IngestAsync(Enumerable.Range(0, 7).Select(i => DashboardFixture.AccessLine($"/{tag}/{i}")));
        await using var t = await SearchStoredAsync(tag, 7);
        await Expect(t.Page.Locator("#histogram")).ToBeVisibleAsync();
        await Expect(t.Page.Locator("#hist-total")).ToHaveTextAsync("7 events");
        var counts = await t.Page.Locator("#hist-chart rect.bar").EvaluateAllAsync<int[]>("bars => bars.map(b => Number(b.dataset.count))");
        Assert.Equal(7, counts.Sum());

        // The lines are a second old in a one-hour window: the left tenth of the chart holds none of them.
        var box = (await t.Page.Locator("#hist-chart").BoundingBoxAsync())!;
        var y = box.Y + (box.Height / 2);
        await DragAsync(t.Page, box.X + 2, box.X + (box.Width * 0.1), y);
        await Expect(t.Page.Locator("#range")).ToHaveValueAsync("custom");
        await Expect(t.Page.Locator("#results-body td.empty")).ToHaveTextAsync("nothing matched");
        await Expect(t.Page.Locator("#hist-total")).ToHaveTextAsync("0 events");

        // Widen again by hand, then drag from before the first bar that holds any of them to past the chart's right
        // edge (the chart clamps it to the window's end): the narrowed window holds all seven. The drag once ended a
        // pixel inside the edge, which is 3-4 s before the window's end on a 1 h chart, and missed lines younger than
        // that; and lines may straddle a bucket boundary, so the last bar alone need not hold them all.
        await t.Page.SelectOptionAsync("#range", "1h");
        await t.Page.PressAsync("#q", "Enter");
        await Expect(t.Page.Locator("#hist-total")).ToHaveTextAsync("7 events");
        var bar = (await t.Page.Locator("#hist-chart rect.bar:not([data-count='0'])").First.BoundingBoxAsync())!;
        await DragAsync(t.Page, bar.X - 6, box.X + box.Width + 20, y);
        await Expect(t.Page.Locator("#range")).ToHaveValueAsync("custom");
        await Expect(t.Page.Locator("#results-body tr")).ToHaveCountAsync(7);
        var from = DateTime.Parse(await t.Page.InputValueAsync("#from"), CultureInfo.InvariantCulture);
        var to = DateTime.Parse(await t.Page.InputValueAsync("#to"), CultureInfo.InvariantCulture);
        Assert.InRange(to - from, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10));
        Assert.Empty(t.Errors);
    }

    private static async Task DragAsync(IPage page, double fromX, double toX, double y)
    {
        await page.Mouse.MoveAsync((float)fromX, (float)y);
        await page.Mouse.DownAsync();
        await page.Mouse.MoveAsync((float)((fromX + toX) / 2), (float)y);
        await page.Mouse.MoveAsync((float)toX, (float)y);
        await page.Mouse.UpAsync();
    }

    [Fact]
    public async Task DeadLetters_Tab_ShowsUnparsableLineWithReason()
    {
        var tag = NewTag();
        await fixture.IngestAsync([$"{{not JSON <b>{tag}</b>"]);
        await using var t = await SearchStoredAsync(tag, 1, "#tab-dead");
        var row = t.Page.Locator("#results-body tr");
        await Expect(row).ToHaveCountAsync(1);
        await Expect(row.Locator("td.body")).ToHaveTextAsync($"{{not JSON <b>{tag}</b>");
        var cells = await row.Locator("td").AllTextContentsAsync();
        Assert.False(string.IsNullOrWhiteSpace(cells[3]), "the reason column is empty");
        await Expect(t.Page.Locator("#results b")).ToHaveCountAsync(0);
        Assert.Empty(t.Errors);
    }

    [Fact]
    public async Task Phone_390Wide_NoHorizontalScrollInEitherThemeOrView()
    {
        var tag = NewTag();
        await fixture.IngestAsync([DashboardFixture.AccessLine($"/{tag}/a-rather-long-path/that/keeps/going/and/going?with=query&and=more", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15")]);
        var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = fixture.BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 390, Height = 844 },
            ColorScheme = ColorScheme.Dark,
            IsMobile = true,
            HasTouch = true,
        });
        await using var t = new TestPage(context, await context.NewPageAsync());
        await t.Page.GotoAsync("/");
        await Expect(t.Page.Locator("#graph g.node").First).ToBeVisibleAsync();
        const string NoScroll = "() => document.documentElement.scrollWidth <= window.innerWidth";
        Assert.True(await t.Page.EvaluateAsync<bool>(NoScroll), "the pipeline view scrolls sideways at 390 px");

        var background = "() => getComputedStyle(document.body).backgroundColor";
        Assert.Equal("rgb(15, 18, 23)", await t.Page.EvaluateAsync<string>(background));
        await t.Page.ClickAsync("#theme");
        Assert.Equal("rgb(246, 247, 249)", await t.Page.EvaluateAsync<string>(background));

        await t.Page.WaitForFunctionAsync(StoredAtLeast, new object[] { tag, 1, false }, Poll);
        await RunSearchAsync(t, "#tab-search", tag);
        await Expect(t.Page.Locator("#results-body tr")).ToHaveCountAsync(1);
        await t.Page.Locator("#results-body tr").ClickAsync();
        await Expect(t.Page.Locator("#detail")).ToBeVisibleAsync();
        Assert.True(await t.Page.EvaluateAsync<bool>(NoScroll), "the search view scrolls sideways at 390 px");
        await t.Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(DashboardFixture.ArtifactsDirectory, "phone-search.png"), FullPage = true });
        Assert.Empty(t.Errors);
    }
}
