using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AspirePerf.EndToEnd.Tests;

/// <summary>Our performance console's resources page: every resource healthy, refreshed live without a reload.</summary>
public static class OperatorDashboardPage
{
    public static async Task AssertShowsEveryResourceHealthyAsync(IPage page, Uri dashboard, string screenshotDirectory, ITestOutputHelper output)
    {
        ArgumentNullException.ThrowIfNull(page);
        ArgumentNullException.ThrowIfNull(output);
        await page.GotoAsync(dashboard.ToString());

        await page.WaitForFunctionAsync(
            """
            () => {
              const rows = [...document.querySelectorAll('tr[data-resource]')];
              const names = rows.map(r => r.dataset.resource).sort().join(',');
              return names === 'apiservice,cache,dashboard,postgres,worker' && rows.every(r => r.dataset.status === 'Healthy');
            }
            """,
            null,
            new PageWaitForFunctionOptions { Timeout = 60_000 });

        // Live: the interactive page refreshes by itself (the check time moves without a reload).
        var firstCheck = await page.Locator("[data-testid=checked-at]").InnerTextAsync();
        await page.WaitForFunctionAsync(
            "first => document.querySelector('[data-testid=checked-at]')?.textContent !== first",
            firstCheck,
            new PageWaitForFunctionOptions { Timeout = 30_000 });

        var screenshot = Path.Combine(screenshotDirectory, "dashboard-resources.png");
        Directory.CreateDirectory(screenshotDirectory);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        output.WriteLine($"Dashboard screenshot: {screenshot}");
    }
}
