using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Aspire.Hosting.Testing;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AspirePerf.EndToEnd.Tests;

/// <summary>
/// The console's Jobs page against the running system: jobs enqueued through the API appear live, an operator cancels a
/// waiting one and retries it from the page (checked through the API), an export's file downloads through the console
/// (no key in the browser), the charts fill from Prometheus, and a visitor is shown no operator action.
/// </summary>
[Collection(SystemCollection.Name)]
public sealed class JobsPageTests(SystemFixture system, ITestOutputHelper output)
{
    private const float Timeout = 30_000;

    [Fact]
    public async Task An_operator_sees_jobs_live_cancels_and_retries_one_and_downloads_an_export()
    {
        using var api = OperatorApi();
        var export = await EnqueueAsync(api, new { type = "export", payload = new { queryId = "region-sector-heatmap", format = "csv" } });
        var spells = await EnqueueAsync(api, new { type = "export", payload = new { queryId = "employment-spells", format = "ndjson-gzip" }, priority = "low" });
        // Due in an hour: it waits (scheduled) until the operator cancels it, whatever the machine's speed.
        var waiting = await EnqueueAsync(api, new { type = "export", payload = new { queryId = "region-sector-heatmap" }, delaySeconds = 3600 });

        var page = await ConsolePages.OpenAsOperatorAsync(system, "/jobs");
        await ExpectStateAsync(page, waiting, "scheduled");
        await ExpectStateAsync(page, export, "completed");
        await Assertions.Expect(page.GetByTestId($"job-download-{export}")).ToBeVisibleAsync(new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator($"[data-testid=job-state-{spells}]")).ToHaveCountAsync(1, new() { Timeout = Timeout });

        // Cancel needs a second click to confirm; then the API says cancelled, and the page follows by itself.
        await ClickUntilVisibleAsync(page.GetByTestId($"job-cancel-{waiting}"), page.GetByTestId($"job-cancel-confirm-{waiting}"));
        await page.GetByTestId($"job-cancel-confirm-{waiting}").ClickAsync(new() { Timeout = Timeout });
        await Assertions.Expect(page.GetByTestId("job-action-message")).ToContainTextAsync($"Job {waiting} cancelled", new() { Timeout = Timeout });
        Assert.Equal("cancelled", await StateAsync(api, waiting));
        await ExpectStateAsync(page, waiting, "cancelled");

        // Retry queues it again now, attempts reset: it leaves the cancelled state and runs.
        await page.GetByTestId($"job-retry-{waiting}").ClickAsync(new() { Timeout = Timeout });
        await Assertions.Expect(page.GetByTestId("job-action-message")).ToContainTextAsync($"Job {waiting} queued again", new() { Timeout = Timeout });
        Assert.Contains(await StateAsync(api, waiting), new[] { "available", "running", "completed" });
        await ExpectStateAsync(page, waiting, "completed");

        // The detail panel: attempts, progress at 100 %, the result naming the file, and the download link.
        await page.GetByTestId($"job-open-{export}").ClickAsync(new() { Timeout = Timeout });
        var detail = page.Locator($"[data-testid=job-detail][data-job-id='{export}']");
        await Assertions.Expect(detail.GetByTestId("job-result")).ToContainTextAsync("fileName", new() { Timeout = Timeout });
        await Assertions.Expect(detail.Locator("[data-testid=job-progress][data-progress='100']")).ToHaveCountAsync(1, new() { Timeout = Timeout });
        await Assertions.Expect(detail.GetByTestId("job-attempts")).ToHaveTextAsync(new Regex(@"^1 of \d+$"), new() { Timeout = Timeout });

        // The browser's own download: the link is not taken over by Blazor's router, and the file is the API's.
        var download = await page.RunAndWaitForDownloadAsync(() => detail.GetByTestId("job-download").ClickAsync(), new() { Timeout = Timeout });
        var downloaded = await File.ReadAllTextAsync(await download.PathAsync());
        var expected = await api.GetStringAsync(new Uri($"/api/v1/jobs/{export}/result", UriKind.Relative));
        Assert.Equal(expected, downloaded);
        Assert.EndsWith(".csv", download.SuggestedFilename, StringComparison.Ordinal);
        Assert.NotEmpty(downloaded.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1));

        // The same endpoint with the page's cookies: the content type comes through; junk ids are refused, naming the field.
        var console = new Uri(system.Console, "/").ToString().TrimEnd('/');
        var direct = await page.Context.APIRequest.GetAsync($"{console}/jobs/{export}/download");
        Assert.Equal(200, direct.Status);
        Assert.StartsWith("text/csv", direct.Headers["content-type"], StringComparison.Ordinal);
        Assert.Contains("attachment", direct.Headers["content-disposition"], StringComparison.Ordinal);
        // The larger, gzip export relayed byte for byte.
        await ExpectStateAsync(page, spells, "completed");
        var spellsFile = await page.Context.APIRequest.GetAsync($"{console}/jobs/{spells}/download");
        Assert.Equal(200, spellsFile.Status);
        Assert.Equal("application/gzip", spellsFile.Headers["content-type"]);
        Assert.Equal(await api.GetByteArrayAsync(new Uri($"/api/v1/jobs/{spells}/result", UriKind.Relative)), await spellsFile.BodyAsync());
        var junk = await page.Context.APIRequest.GetAsync($"{console}/jobs/abc/download");
        Assert.Equal(400, junk.Status);
        Assert.Contains("\"id\"", await junk.TextAsync(), StringComparison.Ordinal);
        var missing = await page.Context.APIRequest.GetAsync($"{console}/jobs/987654321/download");
        Assert.Equal(404, missing.Status);
        var later = await EnqueueAsync(api, new { type = "export", payload = new { queryId = "region-sector-heatmap" }, delaySeconds = 3600 });
        var notYet = await page.Context.APIRequest.GetAsync($"{console}/jobs/{later}/download");
        Assert.Equal(409, notYet.Status);
        Assert.Contains("scheduled", await notYet.TextAsync(), StringComparison.Ordinal);
        using (await api.DeleteAsync(new Uri($"/api/v1/jobs/{later}", UriKind.Relative)))
        {
        }

        // An operator's export from the page: enqueued through the API with the operator's key, then listed and opened.
        await page.GetByTestId("export-query").SelectOptionAsync("region-sector-heatmap");
        await page.GetByTestId("export-format").SelectOptionAsync("ndjson-gzip");
        await page.GetByTestId("export-enqueue").ClickAsync(new() { Timeout = Timeout });
        var message = page.GetByTestId("job-action-message");
        await Assertions.Expect(message).ToContainTextAsync("enqueued as job", new() { Timeout = Timeout });
        var fromPage = long.Parse(Regex.Match(await message.InnerTextAsync(), @"job (\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
        await ExpectStateAsync(page, fromPage, "completed");
        await Assertions.Expect(page.Locator($"[data-testid=job-detail][data-job-id='{fromPage}']")).ToBeVisibleAsync(new() { Timeout = Timeout });
        await page.GetByTestId($"job-open-{export}").ClickAsync(new() { Timeout = Timeout });
        await Assertions.Expect(detail).ToBeVisibleAsync(new() { Timeout = Timeout });

        // Prometheus has scraped the Worker's completions: the throughput chart has points.
        await page.WaitForFunctionAsync("() => Number(document.querySelector('[data-testid=chart-job-throughput]')?.dataset.points ?? 0) > 0",
            null, new() { Timeout = 120_000 });
        await Assertions.Expect(page.GetByTestId("job-type-table")).ToContainTextAsync("export", new() { Timeout = Timeout });

        await ConsolePages.ScreenshotAsync(page, "jobs-operator-detail", output);
        await ConsolePages.AssertAccessibleAsync(page, "jobs (operator, job detail)", output);
    }

    [Fact]
    public async Task A_visitor_sees_new_jobs_arrive_without_a_reload_and_no_operator_action()
    {
        using var api = OperatorApi();
        var page = await ConsolePages.OpenAsVisitorAsync(system, "/jobs");
        // Enqueued after the page opened: it must appear through the live feed.
        var waiting = await EnqueueAsync(api, new { type = "export", payload = new { queryId = "region-sector-heatmap" }, delaySeconds = 3600 });
        var export = await EnqueueAsync(api, new { type = "export", payload = new { queryId = "region-sector-heatmap", format = "csv" } });
        await ExpectStateAsync(page, waiting, "scheduled");
        await ExpectStateAsync(page, export, "completed");

        // Filters come from fixed lists: scheduled only shows the waiting one, not the completed one.
        await page.GetByTestId("job-state-filter").SelectOptionAsync("scheduled");
        await ExpectStateAsync(page, waiting, "scheduled");
        await Assertions.Expect(page.Locator($"[data-testid=job-state-{export}]")).ToHaveCountAsync(0, new() { Timeout = Timeout });
        await page.GetByTestId("job-state-filter").SelectOptionAsync("");
        await ExpectStateAsync(page, export, "completed");

        await page.GetByTestId($"job-open-{waiting}").ClickAsync(new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator($"[data-testid=job-detail][data-job-id='{waiting}']")).ToBeVisibleAsync(new() { Timeout = Timeout });
        Assert.Equal(0, await page.Locator(ConsolePages.OperatorAction).CountAsync());
        await page.GetByTestId("job-detail-close").ClickAsync();

        await ConsolePages.ScreenshotAsync(page, "jobs-visitor", output);
        await ConsolePages.AssertAccessibleAsync(page, "jobs (visitor)", output);
        Assert.Equal(0, await page.Locator(ConsolePages.OperatorAction).CountAsync());

        using var cleanup = await api.DeleteAsync(new Uri($"/api/v1/jobs/{waiting}", UriKind.Relative));
    }

    private HttpClient OperatorApi()
    {
        var client = system.App.CreateHttpClient("apiservice");
        client.DefaultRequestHeaders.Add("X-Api-Key", system.OperatorKey);
        return client;
    }

    private static async Task<long> EnqueueAsync(HttpClient api, object body)
    {
        using var response = await api.PostAsJsonAsync(new Uri("/api/v1/jobs", UriKind.Relative), body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        using var job = JsonDocument.Parse(text);
        return job.RootElement.GetProperty("id").GetInt64();
    }

    private static async Task<string> StateAsync(HttpClient api, long id)
    {
        using var job = JsonDocument.Parse(await api.GetStringAsync(new Uri($"/api/v1/jobs/{id.ToString(CultureInfo.InvariantCulture)}", UriKind.Relative)));
        return job.RootElement.GetProperty("state").GetString()!;
    }

    /// <summary>
    /// Clicks until <paramref name="expected"/> shows: the list re-renders every two seconds, and a click that lands while
    /// its row is being replaced is lost (a person would click again).
    /// </summary>
    private static async Task ClickUntilVisibleAsync(ILocator trigger, ILocator expected)
    {
        for (var attempt = 1; ; attempt++)
        {
            await trigger.ClickAsync(new() { Timeout = Timeout });
            try
            {
                await Assertions.Expect(expected).ToBeVisibleAsync(new() { Timeout = 5_000 });
                return;
            }
            catch (PlaywrightException) when (attempt < 4)
            {
            }
        }
    }

    private static Task ExpectStateAsync(IPage page, long id, string state) =>
        Assertions.Expect(page.Locator($"[data-testid=job-state-{id}][data-state={state}]")).ToHaveCountAsync(1, new() { Timeout = 60_000 });
}
