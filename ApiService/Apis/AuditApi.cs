using Microsoft.AspNetCore.RateLimiting;
using AspirePerf.ApiService.Authentication;
using AspirePerf.ApiService.Http;
using AspirePerf.Performance.Auditing;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AspirePerf.ApiService.Apis;

/// <summary>The audit trail of writes and operator actions, for operators.</summary>
public static class AuditApi
{
    public static RouteGroupBuilder MapAuditApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/audit").WithTags("Audit").RequireAuthorization(ApiPolicies.Operator).WithNoStore().RequireRateLimiting(RateLimitOptions.Operator);
        api.MapGet("/", ListAsync)
            .WithName("ListAuditEntries")
            .WithSummary("Audit entries, newest first: who, from where, what, with which parameters, the status, when (Operator policy)")
            .WithDescription("limit 1 to 500 (default 50); before: an entry id, to continue after the previous page (the answer's next link).");
        return api;
    }

    public static async Task<Results<Ok<AuditPage>, ValidationProblem>> ListAsync(AuditLog log, CancellationToken cancellationToken, int limit = 50, long? before = null)
    {
        var errors = new Dictionary<string, string[]>();
        if (limit is < 1 or > 500)
        {
            errors["limit"] = ["Must be between 1 and 500."];
        }
        if (before is < 1)
        {
            errors["before"] = ["Must be a positive entry id."];
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        var entries = await log.ListAsync(limit, before, cancellationToken);
        var next = entries.Count == limit ? $"/api/v1/audit?limit={limit}&before={entries[^1].Id}" : null;
        return TypedResults.Ok(new AuditPage(entries, next));
    }
}

public sealed record AuditPage(IReadOnlyList<AuditEntry> Entries, string? Next);
