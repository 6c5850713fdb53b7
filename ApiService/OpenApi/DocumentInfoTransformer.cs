using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace AspirePerf.ApiService.OpenApi;

/// <summary>The document's title, description, servers (without the trailing slash the framework writes) and tag descriptions.</summary>
internal sealed class DocumentInfoTransformer : IOpenApiDocumentTransformer
{
    private static readonly (string Name, string Description)[] Tags =
    [
        ("System", "Live health of every resource of the topology, what the database was seeded with, and a constant body (the host's ceiling, for benchmarks)."),
        ("Queries", "The registered analytics queries: list them with their parameter schemas, run one (a cached, conditional, compressed " +
            "answer; a listing in keyset pages) or stream every row as JSON, NDJSON or CSV. No endpoint takes SQL."),
        ("Analyses", "Registered analyses: graphs of registered queries run in parallel as their dependencies allow, within a deadline."),
        ("Performance", "The performance layer's view: cache, compression, endpoint percentiles, request profiles, N+1 findings, slow " +
            "queries and their plans, pg_stat_statements, and index advice verified with hypopg. Changes need the operator role."),
        ("Jobs", "The durable PostgreSQL job queue the Worker drains: enqueue, inspect, list, cancel, retry, statistics, and a finished export's file."),
        ("Audit", "The trail of writes and operator actions: who, from where, what, with which parameters, and the answer's status."),
    ];

    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Info = new OpenApiInfo
        {
            Title = "AspirePerf API",
            Version = "v1",
            Description = "A labor-market analytics workload (employers, employment records, vacancies, wages) served through registered queries " +
                "and analyses, with the performance layer that makes it fast and observable: caching, profiling, a job queue, index advice.\n\n" +
                "Errors are RFC 9457 problem documents (`application/problem+json`); a 400 names each bad parameter and the rule it broke. " +
                "Access is by API key in the `X-Api-Key` header (see the `ApiKey` security scheme): each operation's security and its " +
                "`x-aspireperf-access` say whether it is anonymous, or needs the reader or the operator role. Every response carries " +
                "its trace id in `X-Trace-Id`.",
        };
        foreach (var server in document.Servers ?? [])
        {
            server.Url = server.Url?.TrimEnd('/');
        }
        var used = (document.Paths ?? []).Values.SelectMany(p => p.Operations?.Values.AsEnumerable() ?? [])
            .SelectMany(o => o.Tags ?? new HashSet<OpenApiTagReference>()).Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        document.Tags = new HashSet<OpenApiTag>(
            Tags.Where(t => used.Contains(t.Name)).Select(t => new OpenApiTag { Name = t.Name, Description = t.Description }));
        var undescribed = used.Where(name => Tags.All(t => t.Name != name)).ToList();
        if (undescribed.Count > 0)
        {
            throw new InvalidOperationException($"Tags without a description in {nameof(DocumentInfoTransformer)}: {string.Join(", ", undescribed)}.");
        }
        return Task.CompletedTask;
    }
}
