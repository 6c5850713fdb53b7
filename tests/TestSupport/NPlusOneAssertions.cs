using AspirePerf.Performance.Profiling;
using Xunit;

namespace AspirePerf.TestSupport;

/// <summary>"This endpoint issues no N+1": send the request, then read its profile from the product's own profiler.</summary>
public static class NPlusOneAssertions
{
    public static async Task<RequestProfile> SendAndProfileAsync(HttpClient client, HttpRequestMessage request, RequestProfiler profiler)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(profiler);
        using var response = await client.SendAsync(request);
        var traceId = response.Headers.TryGetValues(RequestProfilingMiddleware.TraceIdHeader, out var values) ? values.Single() : null;
        Assert.True(traceId is not null, $"{request.Method} {request.RequestUri} answered without {RequestProfilingMiddleware.TraceIdHeader}");
        var profile = profiler.Find(traceId);
        Assert.True(profile is not null, $"no profile was recorded for {request.Method} {request.RequestUri}");
        return profile;
    }

    public static async Task<RequestProfile> AssertNoNPlusOneAsync(HttpClient client, HttpRequestMessage request, RequestProfiler profiler)
    {
        var profile = await SendAndProfileAsync(client, request, profiler);
        Assert.True(profile.Findings.Count == 0,
            $"{request.Method} {request.RequestUri} issued N+1: " + string.Join("; ", profile.Findings.Select(f => $"{f.Count}× {f.Sql}")));
        return profile;
    }
}
