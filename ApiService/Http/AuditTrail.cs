using System.Diagnostics;
using System.Text.Json;
using AspirePerf.Performance.Auditing;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;

namespace AspirePerf.ApiService.Http;

/// <summary>
/// Writes an audit entry for each call of an endpoint marked <see cref="WithAudit"/>: the caller's key name (or
/// "anonymous") and address, the route, its route values, query and body, and the status it answered. The entry is
/// written before the answer goes out, so an action the client saw succeed is always in the trail.
/// </summary>
internal static partial class AuditTrail
{
    public static TBuilder WithAudit<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
        {
            object? result;
            try
            {
                result = await next(context);
            }
            catch (Exception) when (!context.HttpContext.RequestAborted.IsCancellationRequested)
            {
                await RecordAsync(context, StatusCodes.Status500InternalServerError);
                throw;
            }
            await RecordAsync(context, StatusOf(result, context.HttpContext));
            return result;
        });

    private static int StatusOf(object? result, HttpContext http)
    {
        while (result is INestedHttpResult nested)
        {
            result = nested.Result;
        }
        return result is IStatusCodeHttpResult { StatusCode: { } status } ? status : http.Response.StatusCode;
    }

    private static async Task RecordAsync(EndpointFilterInvocationContext context, int status)
    {
        var http = context.HttpContext;
        var services = http.RequestServices;
        var endpoint = http.GetEndpoint() as RouteEndpoint;
        var route = endpoint?.RoutePattern.RawText ?? http.Request.Path.Value ?? "";
        var action = $"{http.Request.Method} {(route.Length > 1 ? route.TrimEnd('/') : route)}";
        var parameters = JsonSerializer.SerializeToElement(Parameters(context, endpoint), services.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions);
        try
        {
            await services.GetRequiredService<AuditLog>().RecordAsync(http.User.Identity?.Name ?? "anonymous", http.Connection.RemoteIpAddress?.ToString(),
                action, parameters, status, Activity.Current?.TraceId.ToHexString(), CancellationToken.None);
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException)
        {
            // The action itself has run; its answer still goes out, and the failure to record it is logged loudly.
            LogAuditWriteFailed(services.GetRequiredService<ILoggerFactory>().CreateLogger("AspirePerf.Audit"), ex, action, status);
        }
    }

    private static Dictionary<string, object?> Parameters(EndpointFilterInvocationContext context, RouteEndpoint? endpoint)
    {
        var http = context.HttpContext;
        var parameters = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (http.Request.RouteValues.Count > 0)
        {
            parameters["route"] = http.Request.RouteValues.ToDictionary(v => v.Key, v => v.Value?.ToString());
        }
        if (http.Request.Query.Count > 0)
        {
            parameters["query"] = http.Request.Query.ToDictionary(q => q.Key, q => q.Value.ToString());
        }
        // The body is the argument the endpoint declared it accepts (minimal APIs publish it as IAcceptsMetadata).
        if (endpoint?.Metadata.GetMetadata<IAcceptsMetadata>()?.RequestType is { } bodyType
            && context.Arguments.FirstOrDefault(a => a is not null && bodyType.IsInstanceOfType(a)) is { } body)
        {
            parameters["body"] = body;
        }
        return parameters;
    }

    [LoggerMessage(LogLevel.Error, "Could not write the audit entry of {Action} (answered {Status})")]
    private static partial void LogAuditWriteFailed(ILogger logger, Exception exception, string action, int status);
}
