using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using AspirePerf.TestSupport;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AspirePerf.EndToEnd.Tests;

/// <summary>
/// The Analyses page (an operator runs an analysis as a job and watches its steps fill in; a visitor sees the graph
/// only) and the SLA page (real results of the SLA runner, run against this system, with a baseline comparison).
/// </summary>
[Collection(SystemCollection.Name)]
public sealed class AnalysesAndSlaPageTests(SystemFixture system, ITestOutputHelper output)
{
    private static readonly string[] Unfinished = ["waiting", "running"];

    [Fact]
    public async Task An_operator_runs_an_analysis_and_watches_its_steps_go_from_waiting_and_running_to_completed()
    {
        var page = await ConsolePages.OpenAsOperatorAsync(system, "/analyses");
        await page.SelectOptionAsync("[data-testid=analysis-select]", "sector-briefing");
        await page.WaitForSelectorAsync("[data-testid=step][data-step=leader-history]");
        Assert.Equal(7, await page.Locator("[data-testid=step]").CountAsync());
        // The graph says what each step runs after before anything runs.
        Assert.Contains("top-employers", await page.Locator("[data-testid=step][data-step=leader-history]").InnerTextAsync(), StringComparison.Ordinal);

        // Without its required sector the API refuses the job, and says so under the field.
        await page.Locator("[data-testid=analysis-form] select[data-param=sector]").SelectOptionAsync("");
        await page.ClickAsync("[data-testid=run-analysis]");
        var sectorError = page.Locator("[data-error-for=sector]");
        await Assertions.Expect(sectorError).Not.ToBeEmptyAsync(new() { Timeout = 30_000 });
        output.WriteLine($"sector error: {await sectorError.InnerTextAsync()}");

        // Every status each step shows, recorded in the page as it changes (polls are faster than a test's look).
        await page.EvaluateAsync("""
            () => {
              window.__stepStatuses = [];
              const record = () => document.querySelectorAll('[data-testid=step]').forEach(row => {
                const entry = row.dataset.step + ':' + row.dataset.status;
                if (!window.__stepStatuses.includes(entry)) window.__stepStatuses.push(entry);
              });
              new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
            }
            """);
        await page.Locator("[data-testid=analysis-form] select[data-param=sector]").SelectOptionAsync("HLT");
        // Bypassing the cache makes every step compute, so the run lasts long enough to be seen running.
        await page.CheckAsync("[data-testid=analysis-bypass]");
        await page.ClickAsync("[data-testid=run-analysis]");

        await page.WaitForSelectorAsync("[data-testid=run-summary][data-outcome=complete], [data-testid=run-summary][data-outcome=partial], [data-testid=run-summary][data-outcome=failed]",
            new() { Timeout = 120_000 });
        var outcome = await page.GetAttributeAsync("[data-testid=run-summary]", "data-outcome");
        var statuses = await page.EvaluateAsync<string[]>("() => window.__stepStatuses");
        output.WriteLine($"outcome {outcome}; statuses seen: {string.Join(", ", statuses)}");
        Assert.Equal("complete", outcome);
        var rows = page.Locator("[data-testid=step]");
        for (var i = 0; i < await rows.CountAsync(); i++)
        {
            Assert.Equal("completed", await rows.Nth(i).GetAttributeAsync("data-status"));
        }
        // Watched, not just read at the end: steps were seen waiting or running before they completed.
        Assert.Contains(statuses, s => Unfinished.Contains(s.Split(':')[1], StringComparer.Ordinal));
        Assert.Contains(statuses, s => s.EndsWith(":completed", StringComparison.Ordinal));
        Assert.Contains("ms", await page.InnerTextAsync("[data-testid=run-critical-path]"), StringComparison.Ordinal);
        Assert.Equal(0, await page.Locator("[data-testid=live-error]").CountAsync());
        await Assertions.Expect(page.Locator("[data-testid=recent-runs] tbody tr")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("[data-testid=analysis-jobs]")).ToContainTextAsync("sector-briefing", new() { Timeout = 15_000 });

        await ConsolePages.ScreenshotAsync(page, "analyses-operator", output);
        await ConsolePages.AssertAccessibleAsync(page, "analyses (operator, after a run)", output);
    }

    [Fact]
    public async Task A_visitor_sees_the_step_graph_and_no_operator_action()
    {
        var page = await ConsolePages.OpenAsVisitorAsync(system, "/analyses");
        await page.WaitForSelectorAsync("[data-testid=step]");
        await page.WaitForSelectorAsync("[data-testid=analysis-readonly]");
        Assert.Equal(0, await page.Locator(ConsolePages.OperatorAction).CountAsync());
        Assert.Equal(0, await page.Locator("[data-testid=run-analysis]").CountAsync());
        await ConsolePages.ScreenshotAsync(page, "analyses-visitor", output);
        await ConsolePages.AssertAccessibleAsync(page, "analyses (visitor)", output);
    }

    [Fact]
    public async Task The_SLA_page_shows_a_real_runner_result_against_its_thresholds_and_a_baseline()
    {
        var page = await ConsolePages.OpenAsVisitorAsync(system, "/sla");
        await page.WaitForSelectorAsync("[data-testid=sla-source]");
        // A corrupt result (an old folder, as a crashed or hand-edited run leaves it) is named with its reason, not fatal.
        var corrupt = Path.Combine(system.SlaResultsDirectory, "19990101-000000");
        Directory.CreateDirectory(corrupt);
        await File.WriteAllTextAsync(Path.Combine(corrupt, "result.json"), """{ "schemaVersion": 1, "scenarios": [ { "name": """);

        // Two short invocations of the real runner against this system: five runs saved as a baseline (in a temporary
        // folder, never the repository's), then five more compared with it (comparison.json).
        var baselines = Path.Combine(Path.GetTempPath(), $"aspireperf-sla-baselines-{Guid.NewGuid():N}");
        try
        {
            var first = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
            await RunSlaAsync(first, "--save-baseline", "e2e", "--baselines", baselines);
            var second = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
            await RunSlaAsync(second, "--baseline", "e2e", "--baselines", baselines);
            var comparison = Path.Combine(system.SlaResultsDirectory, second, "comparison.json");
            Assert.True(File.Exists(comparison), $"the runner wrote no {comparison}");
            using var verdicts = JsonDocument.Parse(await File.ReadAllTextAsync(comparison));
            var latest = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(system.SlaResultsDirectory, second, "run-5", "result.json")));
            var scenario = latest.RootElement.GetProperty("scenarios")[0];
            var p95 = scenario.GetProperty("latency").GetProperty("p95").GetDouble();

            // The page finds the new folders by itself.
            var card = page.Locator("[data-testid=sla-scenario][data-scenario=simple]");
            await Assertions.Expect(card.Locator("[data-testid=sla-comparison]")).ToBeVisibleAsync(new() { Timeout = 30_000 });
            Assert.Contains(second, await card.InnerTextAsync(), StringComparison.Ordinal);
            Assert.Equal(scenario.GetProperty("sla").GetProperty("holds").GetBoolean() ? "true" : "false", await card.GetAttributeAsync("data-holds"));
            Assert.Equal(3, await card.Locator("[data-testid=sla-threshold-chart] rect[data-measured]").CountAsync());
            Assert.Equal(3, await card.Locator("[data-testid=sla-threshold-chart] rect[data-threshold]").CountAsync());
            Assert.Contains(p95.ToString(p95 < 10 ? "0.0" : "0", CultureInfo.InvariantCulture) + " ms measured",
                await card.Locator("[data-testid=sla-threshold-chart]").InnerHTMLAsync(), StringComparison.Ordinal);
            var metrics = verdicts.RootElement.EnumerateArray().Count(m => m.GetProperty("scenario").GetString() == "simple");
            Assert.Equal(metrics, await card.Locator("[data-testid=sla-comparison] tbody tr").CountAsync());
            if (!scenario.GetProperty("sla").GetProperty("holds").GetBoolean())
            {
                await Assertions.Expect(card.Locator("[data-testid=sla-breaches] li")).Not.ToHaveCountAsync(0);
            }
            // Ten runs found: ten p95 points in the history.
            Assert.Equal("10", await page.GetAttributeAsync("[data-testid=sla-history]", "data-points"));
            Assert.Contains(Path.Combine("19990101-000000", "result.json"), await page.TextContentAsync("[data-testid=sla-problems]") ?? "", StringComparison.Ordinal);
            Assert.Equal(0, await page.Locator("[data-testid=live-error]").CountAsync());
            Assert.Equal(0, await page.Locator(ConsolePages.OperatorAction).CountAsync());

            await ConsolePages.ScreenshotAsync(page, "sla", output);
            await ConsolePages.AssertAccessibleAsync(page, "sla", output);
        }
        finally
        {
            TestDirectories.TryDelete(baselines);
            TestDirectories.TryDelete(corrupt);
        }
    }

    private async Task RunSlaAsync(string stamp, params string[] extra)
    {
        // Bench is built with this test project, in the same configuration (artifacts/bin/<project>/<debug|release>/).
        var configuration = Path.GetFileName(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory));
        var dll = Path.Combine(TestDirectories.RepositoryRoot, "artifacts", "bin", "AspirePerf.Bench", configuration, "AspirePerf.Bench.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: build tests/EndToEnd.Tests (it builds Bench)");
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = TestDirectories.RepositoryRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        string[] args =
        [
            dll, "sla", "--api", system.Api.ToString(), "--scenario", "simple", "--duration", "2", "--warmup", "1", "--runs", "5",
            "--out", Path.Combine(system.SlaResultsDirectory, stamp), "--operator-key", system.OperatorKey,
            "--metrics", $"{new Uri(system.Api, "/metrics")},{new Uri(system.App.GetEndpoint("worker", "http"), "/metrics")}",
            "--postgres-port", system.App.GetEndpoint("postgres", "tcp").Port.ToString(CultureInfo.InvariantCulture),
            "--redis-port", system.App.GetEndpoint("cache", "tcp").Port.ToString(CultureInfo.InvariantCulture),
            .. extra,
        ];
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        await process.WaitForExitAsync(timeout.Token);
        output.WriteLine($"sla {string.Join(' ', extra)}: exit {process.ExitCode}");
        output.WriteLine(await stdout);
        // The runner redraws a live status line with carriage returns; its final lines are what matter.
        output.WriteLine(string.Join('\n', (await stderr).Split('\n').Select(line => line.Split('\r').Last())));
        // 0 held, 3 an SLA breached, 4 a regression: all are results (a loaded machine may breach); 1 and 2 are failures.
        Assert.Contains(process.ExitCode, new[] { 0, 3, 4 });
    }
}
