using System.Net;
using System.Net.Http.Json;
using AspirePerf.TestSupport.Servers;
using AspirePerf.Performance.Caching;
using AspirePerf.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace AspirePerf.ApiService.Tests;

/// <summary>The cache in front of the query API, against the collection's real Redis and PostgreSQL.</summary>
[Collection(InfrastructureCollection.Name)]
public sealed class CachingTests(InfrastructureFixture infrastructure) : IAsyncLifetime
{
    private const string OperatorKey = "dev-operator-key-not-for-production";
    private string _database = null!;

    public async Task InitializeAsync()
    {
        _database = await infrastructure.CreateSeededDatabaseAsync(nameof(CachingTests), seed: 21, scale: 10_000);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_miss_then_hits_with_headers_and_the_same_body_and_parameter_spelling_does_not_matter()
    {
        await using var factory = new ApiFactory(_database, infrastructure.Redis.ConnectionString);
        using var client = factory.CreateClient();

        var first = await GetAsync(client, "/api/v1/queries/region-sector-heatmap?asOf=2025-03-31");
        var second = await GetAsync(client, "/api/v1/queries/region-sector-heatmap?asOf=2025-03-31");
        var respelled = await GetAsync(client, "/api/v1/queries/region-sector-heatmap?ASOF=2025-03-31");
        var other = await GetAsync(client, "/api/v1/queries/region-sector-heatmap?asOf=2025-04-30");

        Assert.Equal(("MISS", HttpStatusCode.OK), (first.Cache, first.Status));
        Assert.Equal("HIT", second.Cache);
        Assert.Equal("HIT", respelled.Cache);
        Assert.Equal("MISS", other.Cache);
        Assert.Equal(first.Body, second.Body);
        Assert.Equal(first.Key, respelled.Key);
        Assert.NotEqual(first.Key, other.Key);
        Assert.NotNull(second.Age);
        Assert.Equal(first.ExecTime, second.ExecTime);
        var stats = await client.GetFromJsonAsync<CacheStatisticsSnapshot>("/api/v1/perf/cache");
        Assert.True(stats!.Hits >= 2 && stats.Misses >= 2, $"hits {stats.Hits}, misses {stats.Misses}");
        Assert.True(stats.CostSavedMs > 0);
        Assert.Contains(stats.Profiles, p => p.Profile == "aggregate" && p.L1Hits >= 2);
    }

    [Fact]
    public async Task A_hundred_concurrent_misses_run_the_factory_once()
    {
        await using var factory = new ApiFactory(_database, infrastructure.Redis.ConnectionString);
        factory.CreateClient().Dispose();
        var cache = factory.Services.GetRequiredService<AdaptiveCache>();
        var runs = 0;
        var request = new CacheRequest(cache.KeyFor("stampede", [new("n", 1L)]), "aggregate", "stampede", ["table:stampede"]);

        var lookups = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => Task.Run(async () => await cache.GetOrCreateAsync(request, async _ =>
        {
            Interlocked.Increment(ref runs);
            await Task.Delay(300, CancellationToken.None);
            return new CachedPayload("{\"v\":1}"u8.ToArray(), "application/json", 300, DateTimeOffset.UtcNow);
        }, CancellationToken.None))));

        Assert.Equal(1, runs);
        Assert.All(lookups, l => Assert.Equal("{\"v\":1}", System.Text.Encoding.UTF8.GetString(l.Payload.Body.Span)));
    }

    [Fact]
    public async Task Invalidating_a_tag_or_a_key_makes_the_next_request_a_miss_and_needs_the_operator()
    {
        await using var factory = new ApiFactory(_database, infrastructure.Redis.ConnectionString);
        using var client = factory.CreateClient();
        const string url = "/api/v1/queries/new-hires-per-month?from=2024-01-01&to=2024-12-31";
        await GetAsync(client, url);
        Assert.Equal("HIT", (await GetAsync(client, url)).Cache);

        using var anonymous = await client.PostAsJsonAsync("/api/v1/perf/cache/invalidate", new { tag = "table:employment_spells" });
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        await InvalidateAsync(client, new { tag = "table:employment_spells" });
        var afterTag = await GetAsync(client, url);
        Assert.Equal("MISS", afterTag.Cache);
        Assert.Equal("HIT", (await GetAsync(client, url)).Cache);

        await InvalidateAsync(client, new { key = afterTag.Key });
        Assert.Equal("MISS", (await GetAsync(client, url)).Cache);

        using var both = await SendInvalidationAsync(client, new { tag = "x", all = true });
        Assert.Equal(HttpStatusCode.BadRequest, both.StatusCode);
    }

    [Fact]
    public async Task An_invalidation_on_one_node_evicts_l1_on_another_that_had_read_the_tag()
    {
        var shared = new Dictionary<string, string> { ["Caching:Namespace"] = "cross" + Guid.NewGuid().ToString("N")[..8] };
        await using var nodeA = new ApiFactory(_database, infrastructure.Redis.ConnectionString, settings: shared);
        await using var nodeB = new ApiFactory(_database, infrastructure.Redis.ConnectionString, settings: shared);
        using var a = nodeA.CreateClient();
        using var b = nodeB.CreateClient();
        const string url = "/api/v1/queries/wage-histogram?asOf=2025-01-31";

        Assert.Equal("MISS", (await GetAsync(a, url)).Cache);
        Assert.Equal("HIT", (await GetAsync(b, url)).Cache);   // from Redis (L2) …
        Assert.Equal("HIT", (await GetAsync(b, url)).Cache);   // … now in B's own memory (L1)
        var onB = nodeB.Services.GetRequiredService<AdaptiveCache>().Statistics().Profiles.Single(p => p.Profile == "aggregate");
        Assert.Equal((1, 1), (onB.L2Hits, onB.L1Hits));

        await InvalidateAsync(a, new { tag = "table:employers" });
        var evicted = await Eventually.ReturnsAsync(() => GetAsync(b, url), r => r.Cache == "MISS", TimeSpan.FromSeconds(10),
            "node B missing after node A invalidated the tag");
        Assert.Equal(HttpStatusCode.OK, evicted.Status);

        // B's recomputation goes to Redis right after B answered (in the background); A's L1 was evicted too, so A reads it there.
        await Eventually.ReturnsAsync(() => GetAsync(a, url), r => r.Cache == "HIT", TimeSpan.FromSeconds(10), "node A reading B's recomputation");
        await InvalidateAsync(b, new { key = evicted.Key });
        await Eventually.ReturnsAsync(() => GetAsync(a, url), r => r.Cache == "MISS", TimeSpan.FromSeconds(10),
            "node A missing after node B invalidated the key");
    }

    [Fact]
    public async Task The_synchronous_l1_read_answers_only_from_this_nodes_memory()
    {
        var shared = new Dictionary<string, string> { ["Caching:Namespace"] = "local" + Guid.NewGuid().ToString("N")[..8] };
        await using var nodeA = new ApiFactory(_database, infrastructure.Redis.ConnectionString, settings: shared);
        await using var nodeB = new ApiFactory(_database, infrastructure.Redis.ConnectionString, settings: shared);
        nodeA.CreateClient().Dispose();
        nodeB.CreateClient().Dispose();
        var a = nodeA.Services.GetRequiredService<AdaptiveCache>();
        var b = nodeB.Services.GetRequiredService<AdaptiveCache>();
        var request = new CacheRequest(a.KeyFor("local-read", [new("n", 1L)]), "aggregate", "local-read", ["table:local"]);
        var computed = 0;
        Task<CachedPayload> Factory(CancellationToken _)
        {
            Interlocked.Increment(ref computed);
            return Task.FromResult(new CachedPayload("{}"u8.ToArray(), "application/json", 500, DateTimeOffset.UtcNow));
        }

        Assert.False(a.TryGetLocal(request, out _));
        Assert.Equal((CacheOutcome.Miss, CacheTier.Source), Outcome(await a.GetOrCreateAsync(request, Factory, CancellationToken.None)));
        Assert.True(a.TryGetLocal(request, out var onA));
        Assert.Equal((CacheOutcome.Hit, CacheTier.L1), Outcome(onA));

        // Node B: Redis has the entry, its memory does not. The synchronous read says no without reading Redis …
        Assert.False(b.TryGetLocal(request, out _));
        Assert.Equal(0, b.Statistics().Profiles.Single(p => p.Profile == "aggregate").L2Hits);
        // … the asynchronous one reads it from Redis, and from then on B answers synchronously.
        Assert.Equal((CacheOutcome.Hit, CacheTier.L2), Outcome(await b.GetOrCreateAsync(request, Factory, CancellationToken.None)));
        Assert.True(b.TryGetLocal(request, out var onB));
        Assert.Equal(onA.Payload.Body.ToArray(), onB.Payload.Body.ToArray());
        Assert.Equal(1, computed);

        await a.InvalidateKeyAsync(request.Key);
        Assert.False(a.TryGetLocal(request, out _));
        await Eventually.ReturnsAsync(() => Task.FromResult(b.TryGetLocal(request, out _)), hit => !hit, TimeSpan.FromSeconds(10),
            "node B's synchronous read missing after node A invalidated the key");
    }

    private static (CacheOutcome, CacheTier) Outcome(CacheLookup lookup) => (lookup.Outcome, lookup.Tier);

    [Fact]
    public async Task A_full_l1_stays_within_its_limit_counts_capacity_evictions_and_what_it_lost_is_read_from_redis()
    {
        var settings = new Dictionary<string, string> { ["Caching:L1:SizeLimitBytes"] = "8192", ["Caching:Admission:MaxL1Bytes"] = "2048" };
        await using var factory = new ApiFactory(_database, infrastructure.Redis.ConnectionString, settings: settings);
        using var client = factory.CreateClient();
        var cache = factory.Services.GetRequiredService<AdaptiveCache>();
        var requests = Enumerable.Range(0, 24)
            .Select(i => new CacheRequest(cache.KeyFor("l1-limit", [new("n", (long)i)]), "aggregate", "l1-limit", ["table:l1-limit"]))
            .ToList();
        var computed = 0;
        Task<CachedPayload> Factory(CancellationToken _)
        {
            Interlocked.Increment(ref computed);
            return Task.FromResult(new CachedPayload(new byte[1024], "application/json", 50, DateTimeOffset.UtcNow));
        }

        // 24 answers of about 1 KB each, every one admitted to L1, into an L1 of 8 KB.
        foreach (var request in requests)
        {
            Assert.Equal((CacheOutcome.Miss, CacheTier.Source), Outcome(await cache.GetOrCreateAsync(request, Factory, CancellationToken.None)));
        }

        var stats = await Eventually.ReturnsAsync(() => client.GetFromJsonAsync<CacheStatisticsSnapshot>("/api/v1/perf/cache"),
            s => s!.L1Evictions["capacity"] > 0, TimeSpan.FromSeconds(10), "capacity evictions counted");
        Assert.Equal(8192, stats!.L1SizeLimitBytes);
        Assert.InRange(stats.L1EstimatedBytes, 1024, 8192);
        Assert.InRange(stats.L1Entries, 1, 8);
        var metrics = await client.GetStringAsync("/metrics");
        Assert.Contains(metrics.Split('\n'), line =>
            line.StartsWith("aspireperf_cache_l1_evictions_total{", StringComparison.Ordinal) && line.Contains("reason=\"capacity\"", StringComparison.Ordinal));

        // An answer L1 no longer holds is a hit from Redis, not a recomputation.
        var lost = requests.First(r => !cache.TryGetLocal(r, out _));
        Assert.Equal((CacheOutcome.Hit, CacheTier.L2), Outcome(await cache.GetOrCreateAsync(lost, Factory, CancellationToken.None)));
        Assert.Equal(requests.Count, computed);
        Assert.InRange(cache.Statistics().L1EstimatedBytes, 1024, 8192);
    }


    [Fact]
    public async Task The_kill_switch_bypasses_the_cache()
    {
        await using var factory = new ApiFactory(_database, infrastructure.Redis.ConnectionString, settings: new() { ["Caching:Enabled"] = "false" });
        using var client = factory.CreateClient();

        var first = await GetAsync(client, "/api/v1/queries/workers-by-education");
        var second = await GetAsync(client, "/api/v1/queries/workers-by-education");

        Assert.Equal(("BYPASS", "BYPASS"), (first.Cache, second.Cache));
        var cache = factory.Services.GetRequiredService<AdaptiveCache>();
        Assert.False(cache.TryGetLocal(new CacheRequest(cache.KeyFor("off", []), "aggregate", "off", []), out _));
        Assert.False((await client.GetFromJsonAsync<CacheStatisticsSnapshot>("/api/v1/perf/cache"))!.Enabled);
    }

    [Fact]
    public async Task Redis_killed_mid_run_gives_no_errors_l1_still_serves_and_the_cache_recovers()
    {
        var redis = await RedisServer.StartAsync(TestServers.RedisOptions(Path.Combine(infrastructure.RootDirectory, "redis-cache-outage")), infrastructure.Log);
        await using var _ = redis;
        var shared = new Dictionary<string, string> { ["Caching:Namespace"] = "outage" + Guid.NewGuid().ToString("N")[..8] };
        await using var factory = new ApiFactory(_database, redis.ConnectionString, settings: shared);
        using var client = factory.CreateClient();
        const string cached = "/api/v1/queries/nationalization-share?asOf=2025-02-28";
        Assert.Equal("MISS", (await GetAsync(client, cached)).Cache);

        await redis.StopAsync();
        var during = new List<Answer>();
        for (var i = 0; i < 20; i++)
        {
            during.Add(await GetAsync(client, cached));
            during.Add(await GetAsync(client, $"/api/v1/queries/nationalization-share?asOf=2024-0{1 + i % 9}-15"));
        }

        Assert.All(during, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        Assert.All(during.Where((_, i) => i % 2 == 0), r => Assert.Equal("HIT", r.Cache));
        var metrics = await client.GetStringAsync("/metrics");
        Assert.Contains(metrics.Split('\n'), line =>
            line.StartsWith("aspireperf_cache_l2_failures_total{", StringComparison.Ordinal) && line.Contains("reason=\"circuit_open\"", StringComparison.Ordinal));

        await redis.StartAsync();
        // Once Redis is back (and the circuit closed), a new answer reaches L2 again: a second node reads it from there.
        await using var second = new ApiFactory(_database, redis.ConnectionString, settings: shared);
        using var other = second.CreateClient();
        await Eventually.ReturnsAsync(async () =>
        {
            var url = $"/api/v1/queries/nationalization-share?asOf=2023-{Random.Shared.Next(1, 12):00}-{Random.Shared.Next(1, 28):00}";
            await GetAsync(client, url);
            return (await GetAsync(other, url)).Cache;
        }, cache => cache == "HIT", TimeSpan.FromSeconds(60), "an answer computed on one node being read from Redis by another");
    }

    private static async Task<Answer> GetAsync(HttpClient client, string url)
    {
        using var response = await client.GetAsync(url);
        return new Answer(
            response.StatusCode,
            response.Headers.TryGetValues("X-Cache", out var cache) ? cache.Single() : null,
            response.Headers.TryGetValues("X-Cache-Key", out var key) ? key.Single() : null,
            response.Headers.TryGetValues("X-Exec-Time", out var exec) ? exec.Single() : null,
            response.Headers.Age,
            await response.Content.ReadAsStringAsync());
    }

    private static async Task InvalidateAsync(HttpClient client, object body)
    {
        using var response = await SendInvalidationAsync(client, body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static Task<HttpResponseMessage> SendInvalidationAsync(HttpClient client, object body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/perf/cache/invalidate") { Content = JsonContent.Create(body) };
        request.Headers.Add("X-Api-Key", OperatorKey);
        return client.SendAsync(request);
    }

    private sealed record Answer(HttpStatusCode Status, string? Cache, string? Key, string? ExecTime, TimeSpan? Age, string Body);
}
