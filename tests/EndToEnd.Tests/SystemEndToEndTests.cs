using System.Net;
using AspirePerf.AppHost.Local;
using AspirePerf.AppHost.Local.Launcher;
using AspirePerf.TestSupport;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AspirePerf.EndToEnd.Tests;

/// <summary>
/// The whole system as a newcomer runs it: AppHost.Local starts every resource, the dashboard shows them all healthy
/// in a real browser, each service's /metrics passes promtool, and Ctrl+C leaves no process behind.
/// </summary>
public sealed class SystemEndToEndTests(ITestOutputHelper output)
{
    private static readonly string[] ChromiumArgs =
        ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

    [Fact]
    public async Task AppHost_Local_brings_every_resource_to_healthy_the_dashboard_shows_it_and_ctrl_c_leaves_nothing_behind()
    {
        var dataDirectory = TestDirectories.CreateTraversable("aspireperf-e2e");
        var ports = new PortOptions
        {
            Postgres = FreePort.Next(), Cache = FreePort.Next(), ApiService = FreePort.Next(), Dashboard = FreePort.Next(), Worker = FreePort.Next(),
        };
        var log = new LineCapture();
        var appHost = ManagedProcess.Start("apphost", "dotnet",
        [
            typeof(LocalTopology).Assembly.Location,
            $"--DataDirectory={dataDirectory}",
            $"--Ports:Postgres={ports.Postgres}", $"--Ports:Cache={ports.Cache}", $"--Ports:ApiService={ports.ApiService}",
            $"--Ports:Dashboard={ports.Dashboard}", $"--Ports:Worker={ports.Worker}",
            "--PostgresSettings:fsync=off",
            "--ExtraEnvironment:worker:Seeding__Scale=20000",
        ], log);
        try
        {
            await Eventually.ReturnsAsync(() => Task.FromResult(log.Contains("AspirePerf is running") || appHost.HasExited), done => done,
                TimeSpan.FromMinutes(4), "AppHost.Local reporting every resource started");
            Assert.False(appHost.HasExited, $"AppHost.Local exited early with code {appHost.ExitCode}");
            foreach (var url in new[] { "http://localhost:{0}/scalar/v1", "http://localhost:{0}/openapi/v1.json" })
            {
                Assert.Contains(string.Format(System.Globalization.CultureInfo.InvariantCulture, url, ports.ApiService), log.Text, StringComparison.Ordinal);
            }
            Assert.Contains($"http://localhost:{ports.Dashboard}/", log.Text, StringComparison.Ordinal);

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(15) };
            foreach (var port in new[] { ports.ApiService, ports.Worker, ports.Dashboard })
            {
                using var health = await http.GetAsync(new Uri($"http://localhost:{port}/health"));
                Assert.Equal(HttpStatusCode.OK, health.StatusCode);
                var metrics = await http.GetStringAsync(new Uri($"http://localhost:{port}/metrics"));
                var (exitCode, promtool) = await Promtool.CheckMetricsAsync(metrics);
                Assert.True(exitCode == 0, $"promtool rejected /metrics of port {port}:{Environment.NewLine}{promtool}");
            }

            await AssertDashboardShowsEveryResourceHealthyAsync(ports.Dashboard);

            var descendants = ProcessTree.Descendants(appHost.Id);
            Assert.Contains(descendants, p => p.Name == "postgres");
            Assert.Contains(descendants, p => p.Name.StartsWith("redis-server", StringComparison.Ordinal));
            Assert.True(descendants.Count(p => p.Name == "dotnet") >= 3, "expected worker, apiservice and dashboard as dotnet children");

            Assert.True(ManagedProcess.Signal(appHost.Id, ManagedProcess.SigInt));
            using (var exit = new CancellationTokenSource(TimeSpan.FromSeconds(90)))
            {
                await appHost.WaitForExitAsync(exit.Token);
            }

            Assert.Equal(0, appHost.ExitCode);
            Assert.Contains("all resources stopped", log.Text, StringComparison.Ordinal);
            var survivors = descendants.Where(ProcessTree.IsAlive).ToList();
            Assert.True(survivors.Count == 0, "left behind: " + string.Join(", ", survivors.Select(p => $"{p.Name} ({p.Pid})")));
        }
        finally
        {
            await appHost.StopAsync(ManagedProcess.SigTerm, TimeSpan.FromSeconds(60));
            output.WriteLine(log.Text);
            TestDirectories.TryDelete(dataDirectory);
        }
    }

    private async Task AssertDashboardShowsEveryResourceHealthyAsync(int dashboardPort)
    {
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ChromiumArgs,
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1200, Height = 640 } });
        await page.GotoAsync($"http://localhost:{dashboardPort}/");

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

        var screenshot = Path.Combine(ScreenshotDirectory, "dashboard-resources.png");
        Directory.CreateDirectory(ScreenshotDirectory);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        output.WriteLine($"Dashboard screenshot: {screenshot}");

        await QueryExplorerPage.AssertRunsAQueryAndShowsFieldErrorsAsync(page, dashboardPort, ScreenshotDirectory, output);
    }

    private static string ScreenshotDirectory => Path.Combine(LocalAppHostOptions.RepositoryRoot, "artifacts", "test-results");
}
