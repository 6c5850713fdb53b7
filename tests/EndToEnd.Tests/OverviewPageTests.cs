using Aspire.Hosting.Testing;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AspirePerf.EndToEnd.Tests;

/// <summary>
/// The console's Overview against the running system: the overall status from GET /api/v1/perf/dashboard with its
/// reasons, each a link to the page that explains it (this system's slow-query threshold is 0 ms, so any query makes the
/// slow-statements reason), key numbers whose sparklines fill from Prometheus, Prometheus's alerts, live updates without
/// a reload, and no operator action for a visitor.
/// </summary>
[Collection(SystemCollection.Name)]
public sealed class OverviewPageTests(SystemFixture system, ITestOutputHelper output)
{
    private const float Timeout = 90_000;

    [Fact]
    public async Task The_overview_shows_the_status_with_linked_reasons_and_key_numbers_with_history()
    {
        using (var api = system.App.CreateHttpClient("apiservice"))
        {
            for (var i = 0; i < 5; i++)
            {
                using var response = await api.GetAsync(new Uri($"/api/v1/queries/wage-percentiles?asOf=2024-12-3{i % 2}&sector=FIN", UriKind.Relative));
                Assert.True(response.IsSuccessStatusCode, $"{response.StatusCode}");
            }
        }

        var page = await ConsolePages.OpenAsVisitorAsync(system, "/");
        await page.WaitForSelectorAsync("[data-testid=overall-status][data-status=warning], [data-testid=overall-status][data-status=critical]",
            new PageWaitForSelectorOptions { Timeout = Timeout });
        var reason = page.Locator("[data-reason=slow-statements]");
        await reason.WaitForAsync(new LocatorWaitForOptions { Timeout = Timeout });
        output.WriteLine($"Status {await page.GetAttributeAsync("[data-testid=overall-status]", "data-status")}: " +
            string.Join("; ", await page.Locator("[data-reason]").AllInnerTextsAsync()));
        Assert.Equal(0, await page.Locator(ConsolePages.OperatorAction).CountAsync());

        // Live: the read time moves without a reload.
        var first = await page.InnerTextAsync("[data-testid=read-at]");
        await page.WaitForFunctionAsync("first => document.querySelector('[data-testid=read-at]')?.textContent !== first", first,
            new PageWaitForFunctionOptions { Timeout = 30_000 });

        // Key numbers: the request rate's sparkline gets history from Prometheus once it has scraped and evaluated its rules.
        await page.WaitForFunctionAsync(
            "() => Number(document.querySelector('[data-testid=figure-requests] svg')?.dataset.points ?? 0) >= 2",
            null, new PageWaitForFunctionOptions { Timeout = Timeout, PollingInterval = 1000 });
        Assert.NotEqual("–", (await page.InnerTextAsync("[data-testid=figure-requests] .card-value")).Trim());
        Assert.Equal(1, await page.Locator("[data-testid=no-alerts], [data-testid=alerts]").CountAsync());

        await ConsolePages.AssertAccessibleAsync(page, "overview", output);
        await ConsolePages.ScreenshotAsync(page, "overview", output);

        // The reason's link opens the page that explains it.
        await reason.Locator("a").ClickAsync();
        await page.WaitForURLAsync("**/database", new PageWaitForURLOptions { Timeout = 30_000 });
        await page.WaitForSelectorAsync("h1:has-text('Database')");
    }
}
