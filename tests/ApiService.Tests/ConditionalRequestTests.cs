using System.Net;
using AspirePerf.TestSupport;

namespace AspirePerf.ApiService.Tests;

/// <summary>Entity tags on query answers, 304 for a client's current copy, and Cache-Control per route class.</summary>
[Collection(InfrastructureCollection.Name)]
public sealed class ConditionalRequestTests(InfrastructureFixture infrastructure)
{
    private const string Query = "/api/v1/queries/new-hires-per-month?from=2024-01-01";

    [Fact]
    public async Task A_query_answer_carries_a_strong_etag_and_a_matching_if_none_match_gets_304_without_a_body()
    {
        var database = await infrastructure.CreateSeededDatabaseAsync("conditional", scale: 2_000);
        await using var factory = new ApiFactory(database, infrastructure.Redis.ConnectionString);
        using var client = factory.CreateClient();

        using var first = await client.GetAsync(Query);
        var body = await first.Content.ReadAsByteArrayAsync();
        var etag = first.Headers.ETag;
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.NotNull(etag);
        Assert.False(etag.IsWeak);
        // Public (reads need no key here), fresh for what is left of the entry's TTL: at most the profile's longest.
        Assert.True(first.Headers.CacheControl is { Public: true, MaxAge: { } maxAge } && maxAge > TimeSpan.Zero && maxAge <= TimeSpan.FromHours(2),
            $"Cache-Control: {first.Headers.CacheControl}");
        Assert.Contains("Accept-Encoding", first.Headers.Vary);

        // A cache hit answers the same bytes under the same tag.
        using var second = await client.GetAsync(Query);
        Assert.Equal("HIT", Assert.Single(second.Headers.GetValues("X-Cache")));
        Assert.Equal(etag, second.Headers.ETag);
        Assert.Equal(body, await second.Content.ReadAsByteArrayAsync());

        foreach (var ifNoneMatch in new[] { etag.Tag, $"W/{etag.Tag}", $"\"other\", {etag.Tag}", "*" })
        {
            using var conditional = new HttpRequestMessage(HttpMethod.Get, Query);
            conditional.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
            using var notModified = await client.SendAsync(conditional);
            Assert.True(notModified.StatusCode == HttpStatusCode.NotModified, $"If-None-Match: {ifNoneMatch} gave {notModified.StatusCode}");
            Assert.Empty(await notModified.Content.ReadAsByteArrayAsync());
            Assert.Equal(etag, notModified.Headers.ETag);
            Assert.Equal("nosniff", Assert.Single(notModified.Headers.GetValues("X-Content-Type-Options")));
        }

        using var stale = new HttpRequestMessage(HttpMethod.Get, Query);
        stale.Headers.TryAddWithoutValidation("If-None-Match", "\"an-older-answer\"");
        using var changed = await client.SendAsync(stale);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.Equal(body, await changed.Content.ReadAsByteArrayAsync());

        // Recomputed with the same rows, the answer has the same bytes and tag: its cost is in X-Exec-Time, not in the body.
        using var recompute = new HttpRequestMessage(HttpMethod.Get, Query);
        recompute.Headers.Add("X-Api-Key", "dev-operator-key-not-for-production");
        recompute.Headers.CacheControl = new System.Net.Http.Headers.CacheControlHeaderValue { NoCache = true };
        using var recomputed = await client.SendAsync(recompute);
        Assert.Equal("BYPASS", Assert.Single(recomputed.Headers.GetValues("X-Cache")));
        Assert.Equal(etag, recomputed.Headers.ETag);
        Assert.Equal(body, await recomputed.Content.ReadAsByteArrayAsync());

        // Another query's answer has another tag.
        using var other = await client.GetAsync("/api/v1/queries/new-hires-per-month?from=2024-02-01");
        Assert.NotEqual(etag, other.Headers.ETag);
    }

    [Theory]
    [InlineData("/api/v1/perf/cache")]
    [InlineData("/api/v1/perf/endpoints")]
    [InlineData("/api/v1/jobs/types")]
    [InlineData("/api/v1/system/resources")]
    public async Task Live_state_is_never_stored(string path)
    {
        var database = await infrastructure.CreateSeededDatabaseAsync("nostore", scale: 2_000);
        await using var factory = new ApiFactory(database, infrastructure.Redis.ConnectionString);
        using var client = factory.CreateClient();

        using var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Headers.CacheControl?.NoStore, $"{path}: Cache-Control {response.Headers.CacheControl}");
    }

    [Theory]
    [InlineData("/health")]
    [InlineData("/alive")]
    public async Task Health_is_never_served_from_a_cache(string path)
    {
        var database = await infrastructure.CreateDatabaseAsync("healthcache");
        await using var factory = new ApiFactory(database, infrastructure.Redis.ConnectionString);
        using var client = factory.CreateClient();

        using var response = await client.GetAsync(path);

        // ASP.NET Core's health checks answer no-store, no-cache (and Pragma/Expires for old caches): a probe sees now.
        Assert.True(response.Headers.CacheControl is { NoCache: true, NoStore: true }, $"{path}: Cache-Control {response.Headers.CacheControl}");
    }
}
