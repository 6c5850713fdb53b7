using System.Net.Http.Headers;
using System.Text;
using AspirePerf.TestSupport;

namespace AspirePerf.ApiService.Tests;

/// <summary>Security headers on every kind of response: data, pages, problems of every status, health.</summary>
[Collection(InfrastructureCollection.Name)]
public sealed class SecurityHeadersTests(InfrastructureFixture infrastructure)
{
    [Fact]
    public async Task Every_response_carries_the_security_headers_errors_included()
    {
        var database = await infrastructure.CreateSeededDatabaseAsync("securityheaders", scale: 2_000);
        await using var factory = new ApiFactory(database, infrastructure.Redis.ConnectionString);
        using var client = factory.CreateClient();

        using var unsupported = new HttpRequestMessage(HttpMethod.Post, "/api/v1/jobs") { Content = new ByteArrayContent(Encoding.UTF8.GetBytes("x")) };
        unsupported.Content.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
        unsupported.Headers.Add("X-Api-Key", "dev-reader-key-not-for-production");
        var requests = new (string What, HttpRequestMessage Request, int Status)[]
        {
            ("data", new(HttpMethod.Get, "/api/v1/queries"), 200),
            ("query answer", new(HttpMethod.Get, "/api/v1/queries/new-hires-per-month?from=2024-01-01"), 200),
            ("unknown query", new(HttpMethod.Get, "/api/v1/queries/no-such-query"), 404),
            ("validation problem", new(HttpMethod.Get, "/api/v1/system/constant?bytes=1"), 400),
            ("unsupported media type", unsupported, 415),
            ("unknown path", new(HttpMethod.Get, "/no/such/path"), 404),
            ("operator endpoint without a key", new(HttpMethod.Post, "/api/v1/perf/cache/invalidate"), 401),
            ("health", new(HttpMethod.Get, "/health"), 200),
            ("API reference page", new(HttpMethod.Get, "/scalar/v1"), 200),
        };
        foreach (var (what, request, status) in requests)
        {
            using (request)
            using (var response = await client.SendAsync(request))
            {
                Assert.True((int)response.StatusCode == status, $"{what}: {(int)response.StatusCode}");
                Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
                Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
                var policy = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
                Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
                Assert.Contains(what == "API reference page" ? "script-src 'self'" : "default-src 'none'", policy, StringComparison.Ordinal);
                // Plain HTTP: HSTS would be ignored by browsers and is not sent.
                Assert.False(response.Headers.Contains("Strict-Transport-Security"), what);
            }
        }
    }
}
