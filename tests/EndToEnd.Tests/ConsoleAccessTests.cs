using System.Net;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AspirePerf.EndToEnd.Tests;

/// <summary>
/// Operator sign-in on the performance console: a wrong key is refused, the right one signs in with a cookie the page's
/// script cannot read and which does not carry the key in the clear, signing out makes the visitor read-only again,
/// and a crafted return address cannot send the operator off-site. The pages without actions of their own (sign-in,
/// resources, query explorer) pass the accessibility check here too.
/// </summary>
[Collection(SystemCollection.Name)]
public sealed class ConsoleAccessTests(SystemFixture system, ITestOutputHelper output)
{
    [Fact]
    public async Task An_operator_signs_in_with_the_key_kept_only_in_an_http_only_cookie_and_signs_out()
    {
        var page = await ConsolePages.OpenAsVisitorAsync(system, "/");
        Assert.Equal(1, await page.Locator("[data-testid=sign-in-link]").CountAsync());
        Assert.Equal(0, await page.Locator(ConsolePages.OperatorAction).CountAsync());

        // A wrong key: refused with a message, no operator.
        await page.GotoAsync(new Uri(system.Console, "/signin").ToString());
        await ConsolePages.AssertAccessibleAsync(page, "sign-in", output);
        await page.FillAsync("[data-testid=operator-key]", "not-the-operator-key");
        await page.ClickAsync("[data-testid=sign-in]");
        await page.WaitForSelectorAsync("[data-testid=sign-in-error]");
        Assert.Contains("did not accept", await page.InnerTextAsync("[data-testid=sign-in-error]"), StringComparison.Ordinal);
        Assert.Equal(0, await page.Locator("[data-testid=operator-signed-in]").CountAsync());
        await ConsolePages.ScreenshotAsync(page, "sign-in-refused", output);

        // The right key, with a crafted off-site return address: signed in, and back on this site.
        await page.GotoAsync(new Uri(system.Console, "/signin?returnUrl=%2F%2Fexample.org%2Fphish").ToString());
        await page.FillAsync("[data-testid=operator-key]", system.OperatorKey);
        await page.ClickAsync("[data-testid=sign-in]");
        await page.WaitForSelectorAsync("[data-testid=operator-signed-in]");
        Assert.Equal(system.Console.Authority, new Uri(page.Url).Authority);

        var cookie = Assert.Single(await page.Context.CookiesAsync(), c => c.Name == "aspireperf-operator");
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);
        Assert.DoesNotContain(system.OperatorKey, cookie.Value, StringComparison.Ordinal);
        Assert.DoesNotContain(system.OperatorKey, await page.ContentAsync(), StringComparison.Ordinal);
        Assert.Equal("", await page.EvaluateAsync<string>("() => document.cookie.includes('aspireperf-operator') ? 'visible' : ''"));

        await page.ClickAsync("[data-testid=sign-out]");
        await page.WaitForSelectorAsync("[data-testid=sign-in-link]");
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == "aspireperf-operator");
    }

    [Fact]
    public async Task A_sign_in_post_without_the_forms_antiforgery_token_is_refused()
    {
        using var client = new HttpClient { BaseAddress = system.Console };
        using var response = await client.PostAsync(new Uri("/account/signin", UriKind.Relative),
            new FormUrlEncodedContent([new("key", system.OperatorKey), new("returnUrl", "/")]));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.False(response.Headers.Contains("Set-Cookie") && response.Headers.GetValues("Set-Cookie").Any(c => c.StartsWith("aspireperf-operator", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task An_address_no_page_claims_is_a_404_with_the_consoles_own_page()
    {
        using var client = new HttpClient { BaseAddress = system.Console };
        using var response = await client.GetAsync(new Uri("/no-such-page/" + new string('x', 2000), UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("<h1>Not found</h1>", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/resources", "resources")]
    [InlineData("/queries", "query-explorer")]
    public async Task The_older_pages_pass_the_accessibility_check(string path, string name)
    {
        var page = await ConsolePages.OpenAsVisitorAsync(system, path);
        await ConsolePages.AssertAccessibleAsync(page, name, output);
        await ConsolePages.ScreenshotAsync(page, name, output);
    }
}
