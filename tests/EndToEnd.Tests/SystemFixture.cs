using System.Diagnostics;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using AspirePerf.TestSupport;
using Microsoft.Playwright;

namespace AspirePerf.EndToEnd.Tests;

/// <summary>The tests that share one running system (the AppHost is started once for all of them).</summary>
[CollectionDefinition(Name)]
public sealed class SystemCollection : ICollectionFixture<SystemFixture>
{
    public const string Name = "system";
}

/// <summary>
/// The whole system through the real AppHost (Aspire.Hosting.Testing; PostgreSQL, Redis and Prometheus as executables
/// here), every resource healthy, and one headless Chromium (Debian's) for the pages. Started once per test run: the
/// page tests each open their own browser context (their own cookies) on it.
/// </summary>
public sealed class SystemFixture : IAsyncLifetime
{
    public static readonly string[] Resources = ["postgres", "workforce", "cache", "worker", "apiservice", "dashboard", "prometheus"];

    private static readonly string[] ChromiumArgs =
        ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

    private readonly string _dataDirectory = TestDirectories.CreateTraversable("aspireperf-e2e");
    private IPlaywright? _playwright;

    public IDistributedApplicationTestingBuilder Builder { get; private set; } = default!;
    public DistributedApplication App { get; private set; } = default!;
    public IBrowser Browser { get; private set; } = default!;

    /// <summary>The AppHost's operator key, as an operator would paste it (the Aspire dashboard's commands send it too).</summary>
    public string OperatorKey { get; private set; } = "";

    /// <summary>Where the console reads SLA runner results in this run (AppHost:SlaResultsDirectory).</summary>
    public string SlaResultsDirectory => Path.Combine(_dataDirectory, "sla");

    public TimeSpan StartedIn { get; private set; }

    public Uri Console => App.GetEndpoint("dashboard", "http");
    public Uri Api => App.GetEndpoint("apiservice", "http");
    public Uri Prometheus => App.GetEndpoint("prometheus", "http");
    public Uri AspireDashboard => App.GetEndpoint("aspire-dashboard", "http");

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(6));
        var started = Stopwatch.StartNew();
        Builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AspirePerf_AppHost>(
        [
            "--AppHost:Infrastructure=auto", $"--AppHost:DataDirectory={_dataDirectory}",
            "--AppHost:Ports:Postgres=0", "--AppHost:Ports:Cache=0", "--AppHost:Ports:ApiService=0", "--AppHost:Ports:Dashboard=0", "--AppHost:Ports:Worker=0",
            "--AppHost:Ports:Prometheus=0", "--AppHost:Ports:Grafana=0",
            "--AppHost:Postgres:Settings:fsync=off", "--AppHost:SeedingScale=20000",
            // Pages that show Prometheus's history (the Overview's sparklines, the Endpoints page's percentiles) wait for
            // scrapes and rule evaluations: every 5 s here instead of the AppHost's 15 s.
            "--AppHost:Prometheus:ScrapeIntervalSeconds=5", "--AppHost:Prometheus:EvaluationIntervalSeconds=5",
            $"--AppHost:SlaResultsDirectory={SlaResultsDirectory}",
            // Every SQL command counts as slow and every statement is worth advising: a 20,000-spell database is fast,
            // and the Database page must have slow statements, plans and index advice to show.
            "--AppHost:ApiServiceSettings:Profiling:SlowQueryThresholdMs=0", "--AppHost:ApiServiceSettings:IndexAdvisor:MinMeanMs=0",
            // The README's anonymous loopback dashboard; the testing builder gives it free ports of its own.
            "--ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS=true",
        ], (options, _) =>
        {
            options.DisableDashboard = false;
            options.AllowUnsecuredTransport = true;
        }, timeout.Token);
        App = await Builder.BuildAsync(timeout.Token);
        await App.StartAsync(timeout.Token);
        foreach (var resource in Resources)
        {
            await App.ResourceNotifications.WaitForResourceHealthyAsync(resource, timeout.Token);
        }
        StartedIn = started.Elapsed;
        OperatorKey = await Builder.Resources.OfType<ParameterResource>().Single(p => p.Name == "operator-api-key").GetValueAsync(timeout.Token) ?? "";

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ChromiumArgs,
        });
    }

    /// <summary>A fresh browser context (no cookies: a visitor) with one page at the console's usual size.</summary>
    public async Task<IPage> NewPageAsync()
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
        return await context.NewPageAsync();
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }
        _playwright?.Dispose();
        if (App is not null)
        {
            await App.StopAsync(CancellationToken.None);
            await App.DisposeAsync();
        }
        TestDirectories.TryDelete(_dataDirectory);
    }
}
