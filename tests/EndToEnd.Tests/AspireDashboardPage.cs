using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AspirePerf.EndToEnd.Tests;

/// <summary>The Aspire dashboard read as an operator reads it: the resource list, and one trace's spans.</summary>
public static class AspireDashboardPage
{
    private const float Timeout = 60_000;

    private static string TestResultsDirectory => AspirePerf.TestSupport.TestDirectories.TestResults;

    // The names of the resources that no element of the page shows as its whole text.
    private const string UnlistedNames =
        "names => names.filter(n => ![...document.querySelectorAll('body *')].some(e => e.childElementCount === 0 && e.textContent.trim() === n))";

    /// <summary>
    /// The resource page lists every resource. What an open page shows is what its subscription to the dashboard's
    /// resource client has received, rendered in a virtualized grid (FluentDataGrid Virtualize, 46 px rows). Two ways
    /// an open page can stay incomplete however long one waits on it: when the client loses its stream to the AppHost's
    /// resource service (a busy AppHost on a loaded machine) it retries with a backoff of up to 15 s and, once
    /// reconnected, re-sends every resource without telling open pages to start over (DashboardClient.WatchResourcesAsync:
    /// "TODO send a clear event"); and a virtualized grid renders the rows that fit the size it measured, until something
    /// makes it measure again. A reload subscribes afresh and measures again, as an operator would reload: an incomplete
    /// list is reloaded, within the same minute as before, and what was missing is written to the test output.
    /// </summary>
    public static async Task AssertListsResourcesAsync(IPage page, Uri dashboard, IReadOnlyList<string> resources, string screenshotDirectory, ITestOutputHelper output)
    {
        ArgumentNullException.ThrowIfNull(page);
        ArgumentNullException.ThrowIfNull(output);
        var deadline = DateTime.UtcNow.AddMilliseconds(Timeout);
        await page.GotoAsync(dashboard.ToString(), new PageGotoOptions { Timeout = Timeout });
        while (true)
        {
            var wait = Math.Min(20_000, (float)(deadline - DateTime.UtcNow).TotalMilliseconds);
            try
            {
                await page.WaitForFunctionAsync($"names => ({UnlistedNames})(names).length === 0", resources,
                    new PageWaitForFunctionOptions { Timeout = Math.Max(wait, 1) });
                break;
            }
            catch (TimeoutException) when (DateTime.UtcNow < deadline)
            {
                var unlisted = await page.EvaluateAsync<string[]>(UnlistedNames, resources);
                output.WriteLine($"Aspire dashboard at {page.Url}: {string.Join(", ", unlisted)} not listed after {wait / 1000:0} s; reloading the page");
                await page.ReloadAsync(new PageReloadOptions { Timeout = Timeout });
            }
            catch (TimeoutException)
            {
                var unlisted = await page.EvaluateAsync<string[]>(UnlistedNames, resources);
                await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(TestResultsDirectory, "aspire-dashboard-failed-resources.png"), FullPage = true });
                Assert.Fail($"The Aspire dashboard at {page.Url} did not list {string.Join(", ", unlisted)} within {Timeout / 1000:0} s:{Environment.NewLine}" +
                    await page.InnerTextAsync("body"));
            }
        }
        // Anonymous access on loopback: the resource page itself opens, no login form.
        Assert.DoesNotContain("/login", page.Url, StringComparison.Ordinal);
        await page.WaitForTimeoutAsync(1_000);
        var screenshot = Path.Combine(screenshotDirectory, "aspire-dashboard-resources.png");
        Directory.CreateDirectory(screenshotDirectory);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        output.WriteLine($"Aspire dashboard screenshot: {screenshot}");
    }

    public static async Task AssertShowsTraceWithDatabaseSpanAsync(IPage page, Uri dashboard, string traceId, string screenshotDirectory, ITestOutputHelper output)
    {
        ArgumentNullException.ThrowIfNull(page);
        ArgumentNullException.ThrowIfNull(output);
        var detail = new Uri(dashboard, $"/traces/detail/{traceId}");
        // Spans reach the dashboard in batches (about a second in Development): reload until the trace is complete.
        var text = await OpenUntilShownAsync(page, detail, ["apiservice", "workforce"], TimeSpan.FromSeconds(90));
        var screenshot = Path.Combine(screenshotDirectory, "aspire-dashboard-trace.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        output.WriteLine($"Aspire dashboard trace screenshot: {screenshot}");
        Assert.True(text.Contains("apiservice", StringComparison.Ordinal), $"trace {traceId} has no apiservice span:{Environment.NewLine}{text}");
        Assert.True(text.Contains("workforce", StringComparison.Ordinal), $"trace {traceId} has no PostgreSQL (workforce) span:{Environment.NewLine}{text}");
    }

    /// <summary>Each service's structured logs and metrics arrived over OTLP: the dashboard's per-resource pages list them.</summary>
    public static async Task AssertReceivesLogsAndMetricsAsync(IPage page, Uri dashboard, IReadOnlyList<string> services, string screenshotDirectory, ITestOutputHelper output)
    {
        ArgumentNullException.ThrowIfNull(page);
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(output);
        foreach (var service in services)
        {
            // Any log record of the service proves the export; the grid is virtualized, so which rows are rendered
            // depends on how many the service has written by now: its level column is what every row shows.
            await AssertPageShowsAsync(page, new Uri(dashboard, $"/structuredlogs/resource/{service}"), "Information", $"structured logs of {service}");
            // Every service exports ASP.NET Core's and the runtime's meters.
            await AssertPageShowsAsync(page, new Uri(dashboard, $"/metrics/resource/{service}"), "Microsoft.AspNetCore.Hosting", $"metrics of {service}");
        }
        var screenshot = Path.Combine(screenshotDirectory, "aspire-dashboard-metrics.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        output.WriteLine($"Aspire dashboard metrics screenshot: {screenshot}");
    }

    private static async Task AssertPageShowsAsync(IPage page, Uri url, string expected, string what)
    {
        var text = await OpenUntilShownAsync(page, url, [expected], TimeSpan.FromSeconds(60));
        if (!text.Contains(expected, StringComparison.Ordinal))
        {
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(TestResultsDirectory, $"aspire-dashboard-failed-{url.Segments[^1]}.png"), FullPage = true });
        }
        Assert.True(text.Contains(expected, StringComparison.Ordinal), $"{what}: '{expected}' not shown at {url}:{Environment.NewLine}{text}");
    }

    /// <summary>
    /// Opens <paramref name="url"/> until its text shows every one of <paramref name="expected"/> or
    /// <paramref name="patience"/> has passed, and returns the text it last showed. Each opening waits up to 5 s for the
    /// text on the live page (instead of a fixed pause), then reloads: the page shows what had arrived when it opened.
    /// </summary>
    private static async Task<string> OpenUntilShownAsync(IPage page, Uri url, string[] expected, TimeSpan patience)
    {
        var deadline = DateTime.UtcNow + patience;
        while (true)
        {
            await page.GotoAsync(url.ToString(), new PageGotoOptions { Timeout = Timeout });
            try
            {
                await page.WaitForFunctionAsync("expected => expected.every(t => document.body.innerText.includes(t))", expected,
                    new PageWaitForFunctionOptions { Timeout = 5_000 });
            }
            catch (TimeoutException) when (DateTime.UtcNow < deadline)
            {
                continue;
            }
            catch (TimeoutException)
            {
                // Past the deadline: the caller reports what the page shows.
            }
            return await page.InnerTextAsync("body");
        }
    }
}
