using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AspirePerf.EndToEnd.Tests;

/// <summary>
/// The dashboard's Query Explorer driven as a user would: run a query and read its table, then submit an out-of-range
/// value and read the API's validation message next to the field (the browser must not have blocked it).
/// </summary>
public static class QueryExplorerPage
{
    private const float Timeout = 30_000;

    public static async Task AssertRunsAQueryAndShowsFieldErrorsAsync(
        IPage page,
        int dashboardPort,
        string screenshotDirectory,
        ITestOutputHelper output)
    {
        ArgumentNullException.ThrowIfNull(page);
        ArgumentException.ThrowIfNullOrEmpty(screenshotDirectory);
        ArgumentNullException.ThrowIfNull(output);
        Directory.CreateDirectory(screenshotDirectory);

        await page.GotoAsync($"http://localhost:{dashboardPort}/queries", new PageGotoOptions { Timeout = Timeout });

        // The select stays disabled until the Blazor circuit is up and the query list has arrived.
        var select = page.GetByTestId("query-select");
        await Assertions.Expect(select).ToBeEnabledAsync(new LocatorAssertionsToBeEnabledOptions { Timeout = Timeout });
        await Assertions.Expect(select.Locator("option[value='nationalization-share']")).ToHaveCountAsync(1,
            new LocatorAssertionsToHaveCountOptions { Timeout = Timeout });

        // A query that runs: its table has rows and the server's execution time is shown.
        await SelectQueryAsync(page, "nationalization-share");
        await page.GetByTestId("run-query").ClickAsync(new LocatorClickOptions { Timeout = Timeout });
        var table = page.GetByTestId("result-table");
        await Assertions.Expect(table.Locator("tbody tr").First).ToBeVisibleAsync(new LocatorAssertionsToBeVisibleOptions { Timeout = Timeout });
        await Assertions.Expect(table.Locator("thead th").First).ToHaveTextAsync("sector",
            new LocatorAssertionsToHaveTextOptions { Timeout = Timeout });
        await Assertions.Expect(page.GetByTestId("exec-time")).ToHaveTextAsync(new Regex(@"^\d+(\.\d+)? ms$"),
            new LocatorAssertionsToHaveTextOptions { Timeout = Timeout });
        Assert.True(await table.Locator("tbody tr").CountAsync() >= 1);
        await Assertions.Expect(page.GetByTestId("query-problem")).ToHaveCountAsync(0);

        var resultShot = Path.Combine(screenshotDirectory, "query-explorer-result.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = resultShot, FullPage = true, Timeout = Timeout });

        // An out-of-range value goes to the API (no client-side blocking) and its message lands under the field.
        await SelectQueryAsync(page, "wage-histogram");
        var bucketWidth = page.Locator("[data-param=bucketWidth]");
        await bucketWidth.FillAsync("5", new LocatorFillOptions { Timeout = Timeout });
        await page.GetByTestId("run-query").ClickAsync(new LocatorClickOptions { Timeout = Timeout });
        var error = page.Locator("[data-error-for=bucketWidth]");
        await Assertions.Expect(error).ToHaveTextAsync(new Regex(@"\S"), new LocatorAssertionsToHaveTextOptions { Timeout = Timeout });
        var message = await error.InnerTextAsync(new LocatorInnerTextOptions { Timeout = Timeout });
        Assert.Contains("100", message, StringComparison.Ordinal);
        await Assertions.Expect(page.GetByTestId("result-table")).ToHaveCountAsync(0);

        var validationShot = Path.Combine(screenshotDirectory, "query-explorer-validation.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = validationShot, FullPage = true, Timeout = Timeout });

        output.WriteLine($"Query Explorer result screenshot: {resultShot}");
        output.WriteLine($"Query Explorer validation screenshot: {validationShot} (bucketWidth: {message.Trim()})");
    }

    private static async Task SelectQueryAsync(IPage page, string queryId)
    {
        await page.GetByTestId("query-select").SelectOptionAsync(queryId, new LocatorSelectOptionOptions { Timeout = Timeout });
        // The form re-renders for the chosen query once the change has made the round trip to the circuit.
        await Assertions.Expect(page.Locator($"[data-testid=query-form][data-query='{queryId}']")).ToBeVisibleAsync(
            new LocatorAssertionsToBeVisibleOptions { Timeout = Timeout });
    }
}
