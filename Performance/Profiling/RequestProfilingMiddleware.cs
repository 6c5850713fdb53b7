using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace AspirePerf.Performance.Profiling;

/// <summary>Opens and closes each request's profile, and tells the caller its trace id (<c>X-Trace-Id</c>).</summary>
public sealed class RequestProfilingMiddleware(RequestDelegate next, RequestProfiler profiler)
{
    public const string TraceIdHeader = "X-Trace-Id";

    /// <summary>The one key every request that matched no endpoint shares, whatever its path.</summary>
    public const string UnmatchedRoute = "(unmatched)";

    /// <summary>The one key of every method outside HTTP's standard set.</summary>
    public const string OtherMethod = "OTHER";

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
        var traceId = activity.TraceId.ToHexString();
        context.Response.Headers[TraceIdHeader] = traceId;
        try
        {
            await next(context);
        }
        finally
        {
            // Keys come from route templates and standard methods only: a client sending many distinct paths or
            // invented methods must not grow the statistics (one set of histograms per key).
            var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? UnmatchedRoute;
            profiler.End(activity, traceId, StandardMethod(context.Request.Method), route, context.Response.StatusCode, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    public static string StandardMethod(string method) => method switch
    {
        _ when HttpMethods.IsGet(method) => HttpMethods.Get,
        _ when HttpMethods.IsPost(method) => HttpMethods.Post,
        _ when HttpMethods.IsPut(method) => HttpMethods.Put,
        _ when HttpMethods.IsDelete(method) => HttpMethods.Delete,
        _ when HttpMethods.IsPatch(method) => HttpMethods.Patch,
        _ when HttpMethods.IsHead(method) => HttpMethods.Head,
        _ when HttpMethods.IsOptions(method) => HttpMethods.Options,
        _ => OtherMethod,
    };

    // Health probes and scrapes would crowd real requests out of the ring.
    private static bool IsInfrastructure(PathString path) =>
        path.StartsWithSegments("/health", StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments("/alive", StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments("/metrics", StringComparison.OrdinalIgnoreCase);
}
