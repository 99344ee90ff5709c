using System.Net;
using System.Net.Http.Headers;
using static Microsoft.Playwright.Assertions;

namespace Conveyor.Dashboard.Tests;

/// <summary>A configured bearer token guards the dashboard's data; the page asks for it and never puts it in a URL.</summary>
public sealed class TokenTests(TokenDashboardFixture fixture) : IClassFixture<TokenDashboardFixture>
{
    [Theory]
    [InlineData("api/pipeline")]
    [InlineData("api/search?q=*")]
    public async Task Api_WithoutToken_401AndWithToken_200(string path)
    {
        using (var r = await fixture.Http.GetAsync(new Uri(path, UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TokenDashboardFixture.Secret);
        using var ok = await fixture.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task Page_WithoutToken_AsksForItAndRefusesAWrongOne()
    {
        await using var t = await fixture.NewPageAsync();
        await t.Page.GotoAsync("/");
        await Expect(t.Page.Locator("#login")).ToBeVisibleAsync();
        await Expect(t.Page.Locator("main")).ToBeHiddenAsync();

        await t.Page.FillAsync("#login-token", "wrong");
        await t.Page.PressAsync("#login-token", "Enter");
        await Expect(t.Page.Locator("#login-error")).ToBeVisibleAsync();

        await t.Page.FillAsync("#login-token", TokenDashboardFixture.Secret);
        await t.Page.PressAsync("#login-token", "Enter");
        await Expect(t.Page.Locator("#graph g.node").First).ToBeVisibleAsync();
        await Expect(t.Page.Locator("#login")).ToBeHiddenAsync();
        Assert.All(t.Errors, e => Assert.Contains("401", e, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Page_TokenInFragment_SignsInAndNeverSendsItInAUrl()
    {
        await using var t = await fixture.NewPageAsync();
        var urls = new List<string>();
        t.Page.Request += (_, r) =>
        {
            lock (urls)
            {
                urls.Add(r.Url);
            }
        };
        await t.Page.GotoAsync("/#token=" + TokenDashboardFixture.Secret);
        await Expect(t.Page.Locator("#graph g.node").First).ToBeVisibleAsync();
        await Expect(t.Page.Locator("#login")).ToBeHiddenAsync();
        Assert.DoesNotContain("token", t.Page.Url, StringComparison.Ordinal);
        lock (urls)
        {
            Assert.Contains(urls, u => u.Contains("/api/pipeline", StringComparison.Ordinal));
            Assert.DoesNotContain(urls, u => u.Contains(TokenDashboardFixture.Secret, StringComparison.Ordinal));
        }

        Assert.Empty(t.Errors);
    }
}
