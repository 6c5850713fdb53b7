using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace AspirePerf.Performance.Profiling;

/// <summary>Opens and closes each request's profile, and tells the caller its trace id (<c>X-Trace-Id</c>).</summary>
public sealed class RequestProfilingMiddleware(RequestDelegate next, RequestProfiler profiler)
{
    public const string TraceIdHeader = "X-Trace-Id";

    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!profiler.Enabled || Activity.Current is not { } activity || IsInfrastructure(context.Request.Path))
        {
            await next(context);
            return;
        }
        var started = Stopwatch.GetTimestamp();
        profiler.Begin(activity);
        context.Response.Headers[TraceIdHeader] = activity.TraceId.ToHexString();
        try
        {
            await next(context);
        }
        finally
        {
            var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? context.Request.Path.Value ?? "";
            profiler.End(activity, context.Request.Method, route, context.Response.StatusCode, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    // Health probes and scrapes would crowd real requests out of the ring.
    private static bool IsInfrastructure(PathString path) =>
        path.StartsWithSegments("/health", StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments("/alive", StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments("/metrics", StringComparison.OrdinalIgnoreCase);
}
