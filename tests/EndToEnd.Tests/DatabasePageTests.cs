using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Aspire.Hosting.Testing;
using AspirePerf.TestSupport;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AspirePerf.EndToEnd.Tests;

/// <summary>
/// The console's Database page on the running system: slow statements with their plans as a tree, the
/// pg_stat_statements top, index advice, and an operator applying the advised index and reading its before/after times.
/// The fixture gives the API a 0 ms slow-query threshold and no minimum mean for advice (AppHost:ApiServiceSettings),
/// so the 20,000-spell database has slow statements and advice to show.
/// </summary>
[Collection(SystemCollection.Name)]
public sealed class DatabasePageTests(SystemFixture system, ITestOutputHelper output)
{
    private const float Timeout = 60_000;

    [Fact]
    public async Task Lists_slow_statements_opens_a_plan_tree_shows_statements_and_advice_and_an_operator_applies_an_index()
    {
        using var api = system.App.CreateHttpClient("apiservice");
        api.Timeout = TimeSpan.FromMinutes(3);
        await RunWorkloadAsync(api);

        // The by-employer lookup is in the slow-query log and its plan has been captured in the background.
        var fingerprint = await Eventually.ReturnsAsync(async () =>
            {
                using var slow = JsonDocument.Parse(await api.GetStringAsync("/api/v1/perf/queries/slow?limit=500"));
                return slow.RootElement.EnumerateArray()
                    .Where(q => q.GetProperty("query").GetString()!.Contains("employer_id", StringComparison.Ordinal)
                        && q.GetProperty("query").GetString()!.Contains("generate_series", StringComparison.Ordinal))
                    .Select(q => q.GetProperty("fingerprint").GetString())
                    .FirstOrDefault();
            }, f => f is not null, TimeSpan.FromSeconds(60), "the employer lookup in the slow-query log");
        await Eventually.ReturnsAsync(async () =>
            {
                using var plan = JsonDocument.Parse(await api.GetStringAsync($"/api/v1/perf/queries/{fingerprint}/plan"));
                return plan.RootElement.GetProperty("status").GetString();
            }, status => status != "Pending", TimeSpan.FromSeconds(60), "plan capture");

        // A visitor: the list, then one plan as a tree with costs and rows; no operator action anywhere.
        var page = await ConsolePages.OpenAsVisitorAsync(system, "/database");
        var grid = page.GetByTestId("slow-grid");
        await Assertions.Expect(grid).ToBeVisibleAsync(new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator($"[data-testid=show-plan][aria-label*='{fingerprint}']")).ToHaveCountAsync(1, new() { Timeout = Timeout });
        await Assertions.Expect(page.GetByTestId("slow-count")).ToContainTextAsync("statement shapes");
        // pg_stat_statements: its top, or the reason it is off.
        await Assertions.Expect(page.Locator("[data-testid=statements-grid], [data-testid=statements-disabled]").First).ToBeVisibleAsync(new() { Timeout = Timeout });
        // Another order is another shared feed: the top by calls.
        if (await page.GetByTestId("statements-grid").CountAsync() > 0)
        {
            await page.GetByTestId("statements-order").ClickAsync();
            await page.Locator("fluent-option", new() { HasText = "Calls" }).ClickAsync();
            await Assertions.Expect(page.GetByTestId("statements-count")).ToContainTextAsync("by calls", new() { Timeout = Timeout });
        }
        // Index advice (seconds to compute): advised indexes with their CREATE statement and the verdicts.
        await Assertions.Expect(page.GetByTestId("advice-item").First).ToBeVisibleAsync(new() { Timeout = 120_000 });
        await Assertions.Expect(page.GetByTestId("advice-create").First).ToContainTextAsync("CREATE INDEX CONCURRENTLY");
        await Assertions.Expect(page.GetByTestId("advice-at")).ToContainTextAsync("Computed at");
        Assert.Equal(0, await page.Locator(ConsolePages.OperatorAction).CountAsync());
        await ConsolePages.ScreenshotAsync(page, "database-list", output);
        await ConsolePages.AssertAccessibleAsync(page, "database-list", output);

        await page.Locator($"[data-testid=show-plan][aria-label*='{fingerprint}']").ClickAsync();
        var tree = page.GetByTestId("plan-tree");
        await Assertions.Expect(tree).ToBeVisibleAsync(new() { Timeout = Timeout });
        await Assertions.Expect(page.GetByTestId("plan-status")).ToContainTextAsync("Captured");
        await Assertions.Expect(tree.GetByTestId("plan-cost").First).ToHaveTextAsync(new Regex(@"^cost \d+(\.\d+)?\.\.\d+(\.\d+)?$"));
        await Assertions.Expect(tree.GetByTestId("plan-rows").First).ToHaveTextAsync(new Regex(@"^rows [\d,]+$"));
        var nodes = await tree.GetByTestId("plan-node").CountAsync();
        Assert.True(nodes >= 2, $"the plan tree has {nodes} node(s)");
        // The by-employer lookup reads employment_spells; without an index that is a sequential scan.
        await Assertions.Expect(tree.Locator("[data-testid=plan-node]", new() { HasText = "employment_spells" }).First).ToBeVisibleAsync();
        await Assertions.Expect(tree.GetByTestId("plan-most-expensive")).ToHaveCountAsync(1);
        Assert.Equal(0, await page.Locator(ConsolePages.OperatorAction).CountAsync());
        await ConsolePages.ScreenshotAsync(page, "database-plan", output);
        await ConsolePages.AssertAccessibleAsync(page, "database-plan", output);
        await page.Context.CloseAsync();

        // The advice as the API gives it: the index serving the by-employer lookup.
        using var advice = JsonDocument.Parse(await api.GetStringAsync("/api/v1/perf/indexes/advice"));
        var name = advice.RootElement.GetProperty("advice").EnumerateArray()
            .First(a => a.GetProperty("statements").EnumerateArray().Any(s => s.GetProperty("sample").GetString() == "employer-headcount-history"))
            .GetProperty("name").GetString()!;
        output.WriteLine($"Applying {name}");

        // An operator applies it from the page (two clicks) and reads the times before and after.
        var operatorPage = await ConsolePages.OpenAsOperatorAsync(system, "/database");
        var item = operatorPage.Locator($"[data-testid=advice-item][data-index='{name}']");
        await Assertions.Expect(item).ToBeVisibleAsync(new() { Timeout = 120_000 });
        await item.GetByTestId("apply-index").ClickAsync();
        await item.GetByTestId("apply-confirm").ClickAsync(new() { Timeout = Timeout });
        var result = operatorPage.GetByTestId("apply-result");
        await Assertions.Expect(result).ToBeVisibleAsync(new() { Timeout = 180_000 });
        await Assertions.Expect(result.GetByTestId("apply-verdict")).ToHaveTextAsync(new Regex(@"\S"));
        var row = result.GetByTestId("apply-row").Filter(new() { HasText = "employer-headcount-history" });
        await Assertions.Expect(row).ToHaveCountAsync(1);
        var before = double.Parse(await row.GetByTestId("apply-before").InnerTextAsync(), NumberStyles.Float | NumberStyles.AllowThousands, CultureInfo.CurrentCulture);
        var after = double.Parse(await row.GetByTestId("apply-after").InnerTextAsync(), NumberStyles.Float | NumberStyles.AllowThousands, CultureInfo.CurrentCulture);
        Assert.True(before > 0 && after > 0, $"before {before} ms, after {after} ms");
        await Assertions.Expect(result.GetByTestId("apply-chart")).ToBeVisibleAsync();
        output.WriteLine($"{name}: before {before} ms, after {after} ms; {await result.GetByTestId("apply-verdict").InnerTextAsync()}");
        await ConsolePages.ScreenshotAsync(operatorPage, "database-applied", output);
        await ConsolePages.AssertAccessibleAsync(operatorPage, "database-applied", output);
        await operatorPage.Context.CloseAsync();
    }

    /// <summary>The index advisor's e2e workload (tests/ApiService.Tests/IndexAdvisorTests): the by-employer lookup many times, a few aggregations once.</summary>
    private static async Task RunWorkloadAsync(HttpClient api)
    {
        for (var i = 1; i <= 12; i++)
        {
            (await api.GetAsync($"/api/v1/queries/employer-headcount-history?employerId={i}")).EnsureSuccessStatusCode();
        }
        foreach (var query in (string[])["new-hires-per-month", "nationalization-share", "vacancy-time-to-fill", "workers-by-education"])
        {
            (await api.GetAsync($"/api/v1/queries/{query}")).EnsureSuccessStatusCode();
        }
    }
}
