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
        await page.GotoAsync(new Uri(dashboard, "/resources").ToString());

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

        // Live: the interactive page refreshes by itself (the check time moves without a reload), and the refreshed
        // page shows every resource again (the interactive start re-renders the table before its first refresh).
        var firstCheck = await page.Locator("[data-testid=checked-at]").InnerTextAsync();
        await page.WaitForFunctionAsync(
            """
            first => {
              const checkedAt = document.querySelector('[data-testid=checked-at]')?.textContent;
              const rows = [...document.querySelectorAll('tr[data-resource]')];
              return checkedAt && checkedAt !== first && rows.length === 5 && rows.every(r => r.dataset.status === 'Healthy');
            }
            """,
            firstCheck,
            new PageWaitForFunctionOptions { Timeout = 30_000 });

        var screenshot = Path.Combine(screenshotDirectory, "dashboard-resources.png");
        Directory.CreateDirectory(screenshotDirectory);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        output.WriteLine($"Dashboard screenshot: {screenshot}");
    }
}
