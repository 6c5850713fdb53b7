using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;
using Aspire.Hosting.Testing;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AspirePerf.EndToEnd.Tests;

/// <summary>
/// The console's Cache and Endpoints pages against the running system: live cache numbers that follow requests made
/// through the API, an operator's invalidation and what it does to the API's cache, per-route percentiles from
/// Prometheus, and one request's profile (its SQL and the Aspire dashboard's trace) looked up by its X-Trace-Id.
/// </summary>
[Collection(SystemCollection.Name)]
public sealed class CacheAndEndpointsPageTests(SystemFixture system, ITestOutputHelper output)
{
    private const float Timeout = 30_000;
    private const string QueryRoute = "/api/v1/queries/{id}";

    // Parameters no other test asks for, so this test's first request is a miss and its repeats are hits.
    private static readonly Uri CachedQuery = new("/api/v1/queries/wage-percentiles?asOf=2024-06-30&sector=CON", UriKind.Relative);

    [Fact]
    public async Task CachePageFollowsTheCacheLiveAndAnOperatorInvalidatesFromIt()
    {
        using var api = system.App.CreateHttpClient("apiservice");
        var visitor = await ConsolePages.OpenAsVisitorAsync(system, "/cache");
        var lookups = visitor.GetByTestId("cache-lookups");
        await Assertions.Expect(lookups).ToBeVisibleAsync(new() { Timeout = Timeout });
        var hitsBefore = long.Parse(await lookups.GetAttributeAsync("data-hits") ?? "0", CultureInfo.InvariantCulture);

        // A query and its repeats: the first computes it, the others are answered from the cache.
        await QueryAsync(api, CachedQuery);
        string? cache = null;
        for (var i = 0; i < 3; i++)
        {
            cache = (await QueryAsync(api, CachedQuery)).Cache;
        }
        Assert.Equal("HIT", cache);

        // The open page follows without a reload: more hits, and a hit ratio above zero.
        await Assertions.Expect(visitor.GetByTestId("cache-lookups")).Not.ToHaveAttributeAsync("data-hits",
            hitsBefore.ToString(CultureInfo.InvariantCulture), new() { Timeout = Timeout });
        var ratio = double.Parse(await visitor.GetByTestId("cache-hit-ratio").GetAttributeAsync("data-value") ?? "0", CultureInfo.InvariantCulture);
        Assert.True(ratio > 0, $"hit ratio {ratio}");
        await Assertions.Expect(visitor.Locator("[data-testid=cache-profiles] tbody tr").First).ToBeVisibleAsync(new() { Timeout = Timeout });
        Assert.Equal(0, await visitor.Locator(ConsolePages.OperatorAction).CountAsync());
        await ConsolePages.ScreenshotAsync(visitor, "cache-visitor", output);
        await ConsolePages.AssertAccessibleAsync(visitor, "cache (visitor)", output);

        var operatorPage = await ConsolePages.OpenAsOperatorAsync(system, "/cache");
        var value = operatorPage.GetByTestId("invalidate-value");
        await Assertions.Expect(value).ToBeVisibleAsync(new() { Timeout = Timeout });

        // An empty tag goes to the API, whose problem details name the field.
        await operatorPage.GetByTestId("invalidate").ClickAsync();
        await Assertions.Expect(operatorPage.GetByTestId("invalidate-problem")).ToContainTextAsync("tag", new() { Timeout = Timeout });
        await Assertions.Expect(operatorPage.Locator("[data-error-for=tag]")).ToHaveTextAsync(new Regex(@"\S"), new() { Timeout = Timeout });

        // One tag: the result shows, and the API's next answer for that query is computed again (a miss it counts).
        var missesBefore = await MissesAsync(api);
        await value.FillAsync("query:wage-percentiles");
        await operatorPage.GetByTestId("invalidate").ClickAsync();
        await Assertions.Expect(operatorPage.GetByTestId("invalidate-result")).ToContainTextAsync("tag query:wage-percentiles", new() { Timeout = Timeout });
        Assert.Equal("MISS", (await QueryAsync(api, CachedQuery)).Cache);
        Assert.True(await MissesAsync(api) > missesBefore, "the API's cache counted no new miss after the invalidation");
        await ConsolePages.ScreenshotAsync(operatorPage, "cache-operator-invalidated", output);
        await ConsolePages.AssertAccessibleAsync(operatorPage, "cache (operator, invalidated a tag)", output);

        // Everything: only after a second, explicit click.
        await QueryAsync(api, CachedQuery);
        await operatorPage.GetByTestId("invalidate-kind").SelectOptionAsync("all");
        await Assertions.Expect(operatorPage.GetByTestId("invalidate-value")).ToHaveCountAsync(0, new() { Timeout = Timeout });
        await operatorPage.GetByTestId("invalidate").ClickAsync();
        await Assertions.Expect(operatorPage.GetByTestId("invalidate-confirm")).ToBeVisibleAsync(new() { Timeout = Timeout });
        Assert.Equal("HIT", (await QueryAsync(api, CachedQuery)).Cache);
        await ConsolePages.ScreenshotAsync(operatorPage, "cache-operator-confirm", output);
        await ConsolePages.AssertAccessibleAsync(operatorPage, "cache (operator, confirming)", output);
        await operatorPage.GetByTestId("invalidate-confirm").ClickAsync();
        await Assertions.Expect(operatorPage.GetByTestId("invalidate-result")).ToContainTextAsync("everything", new() { Timeout = Timeout });
        Assert.Equal("MISS", (await QueryAsync(api, CachedQuery)).Cache);
        await operatorPage.Context.CloseAsync();
        await visitor.Context.CloseAsync();
    }

    [Fact]
    public async Task EndpointsPageShowsRoutePercentilesFromPrometheusAndARequestsProfile()
    {
        using var api = system.App.CreateHttpClient("apiservice");
        var page = await ConsolePages.OpenAsVisitorAsync(system, "/endpoints");

        // Prometheus needs two scrapes of a route's counters to have a rate: keep calling it until the page lists it.
        var row = page.Locator($"[data-testid=route-latency] tr[data-route='{QueryRoute}'][data-p50]");
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (await row.CountAsync() == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the page listed no percentiles for " + QueryRoute + " within 90 s");
            await QueryAsync(api, CachedQuery);
            await Task.Delay(2000);
        }
        var p50 = double.Parse(await row.GetAttributeAsync("data-p50") ?? "", CultureInfo.InvariantCulture);
        var p99 = double.Parse(await row.GetAttributeAsync("data-p99") ?? "", CultureInfo.InvariantCulture);
        output.WriteLine($"{QueryRoute}: p50 {p50} ms, p99 {p99} ms");
        Assert.True(p50 > 0 && p99 >= p50, $"p50 {p50}, p99 {p99}");

        // A request that runs SQL (an operator's forced recompute), then its profile by the trace id it answered with.
        using var recompute = new HttpRequestMessage(HttpMethod.Get, CachedQuery);
        recompute.Headers.CacheControl = new CacheControlHeaderValue { NoCache = true };
        recompute.Headers.Add("X-Api-Key", system.OperatorKey);
        using var response = await api.SendAsync(recompute);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var traceId = Assert.Single(response.Headers.GetValues("X-Trace-Id"));

        // A malformed id is refused on the page with a message naming the field; an unknown one gets the API's answer.
        await page.GetByTestId("trace-id").FillAsync("not-a-trace-id");
        await page.GetByTestId("trace-lookup").ClickAsync();
        await Assertions.Expect(page.GetByTestId("trace-id-error")).ToContainTextAsync("Trace id", new() { Timeout = Timeout });
        await page.GetByTestId("trace-id").FillAsync(new string('a', 32));
        await page.GetByTestId("trace-lookup").ClickAsync();
        await Assertions.Expect(page.GetByTestId("profile-problem")).ToContainTextAsync("Unknown request", new() { Timeout = Timeout });

        await page.GetByTestId("trace-id").FillAsync(traceId);
        await page.GetByTestId("trace-lookup").ClickAsync();
        var profile = page.Locator($"[data-testid=request-profile][data-trace='{traceId}']");
        await Assertions.Expect(profile).ToBeVisibleAsync(new() { Timeout = Timeout });
        Assert.Contains($"trace={traceId}", page.Url, StringComparison.Ordinal);
        await Assertions.Expect(profile.Locator("[data-testid=profile-sql] tbody tr").First).ToBeVisibleAsync(new() { Timeout = Timeout });
        var link = await profile.GetByTestId("aspire-trace-link").GetAttributeAsync("href");
        Assert.NotNull(link);
        Assert.EndsWith($"/traces/detail/{traceId}", link, StringComparison.Ordinal);
        output.WriteLine($"profile of {traceId}: {await profile.Locator("[data-testid=profile-sql] tbody tr").CountAsync()} SQL command(s); {link}");

        Assert.Equal(0, await page.Locator(ConsolePages.OperatorAction).CountAsync());
        await ConsolePages.ScreenshotAsync(page, "endpoints-visitor", output);
        await ConsolePages.AssertAccessibleAsync(page, "endpoints (visitor, profile)", output);

        // The profile's URL opens it directly; an operator sees the same page.
        var operatorPage = await ConsolePages.OpenAsOperatorAsync(system, $"/endpoints?trace={traceId}");
        await Assertions.Expect(operatorPage.Locator($"[data-testid=request-profile][data-trace='{traceId}']")).ToBeVisibleAsync(new() { Timeout = Timeout });
        await Assertions.Expect(operatorPage.Locator($"[data-testid=route-latency] tr[data-route='{QueryRoute}']")).ToBeVisibleAsync(new() { Timeout = Timeout });
        await ConsolePages.ScreenshotAsync(operatorPage, "endpoints-operator", output);
        await ConsolePages.AssertAccessibleAsync(operatorPage, "endpoints (operator)", output);
        await operatorPage.Context.CloseAsync();
        await page.Context.CloseAsync();
    }

    private static async Task<(HttpStatusCode Status, string? Cache)> QueryAsync(HttpClient api, Uri query)
    {
        using var response = await api.GetAsync(query);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (response.StatusCode, response.Headers.TryGetValues("X-Cache", out var values) ? values.FirstOrDefault() : null);
    }

    private static async Task<long> MissesAsync(HttpClient api)
    {
        using var statistics = JsonDocument.Parse(await api.GetStringAsync(new Uri("/api/v1/perf/cache", UriKind.Relative)));
        return statistics.RootElement.GetProperty("misses").GetInt64();
    }
}
