using AspirePerf.ApiService.Apis;
using AspirePerf.ApiService.Authentication;
using AspirePerf.ApiService.Http;
using AspirePerf.ApiService.OpenApi;
using AspirePerf.Performance.Auditing;
using AspirePerf.Performance.Caching;
using AspirePerf.Performance.Database;
using AspirePerf.Performance.Health;
using AspirePerf.Performance.Profiling;
using AspirePerf.Performance.Database.Queries;
using AspirePerf.Performance.Jobs;
using AspirePerf.Workforce.Extensions;
using AspirePerf.Workforce.Jobs;
using Microsoft.Extensions.Options;
using AspirePerf.Workforce.Data;
using Polly;
using Scalar.AspNetCore;

namespace AspirePerf.ApiService.Extensions;

internal static class Extensions
{
    public const string WorkforceDatabase = "workforce";
    public const string Cache = "cache";

    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDbContext<WorkforceDbContext>(WorkforceDatabase, configureDbContextOptions: WorkforceDbContext.Configure);
        // Pool hygiene: the raw data source (registry queries) gets its pool size from configuration; statement
        // timeouts are per query (Queries:StatementTimeoutMs). Pool metrics come from Npgsql's meter at /metrics.
        var maxPoolSize = builder.Configuration.GetValue<int?>("Database:MaxPoolSize");
        if (maxPoolSize is < 1 or > 1000)
        {
            throw new InvalidOperationException($"Database:MaxPoolSize must be between 1 and 1000 (got {maxPoolSize}).");
        }
        builder.AddNpgsqlDataSource(WorkforceDatabase, configureDataSourceBuilder: dataSource =>
        {
            // Its own pool name in Npgsql's metrics: EF Core's pool has the same connection string, and two pools under one
            // name are one series in /metrics (the last reported wins), which hid this pool's busy connections.
            dataSource.Name = WorkforceDatabase;
            if (maxPoolSize is { } size)
            {
                dataSource.ConnectionStringBuilder.MaxPoolSize = size;
            }
        });
        builder.AddRedisClient(Cache);
        builder.Services.AddWorkforceQueries(builder.Configuration);
        builder.Services.AddAdaptiveCaching(builder.Configuration);
        builder.Services.AddRequestProfiling(builder.Configuration);
        builder.Services.AddPerfDashboard(builder.Configuration);
        builder.Services.AddIndexAdvisor(builder.Configuration);
        // Enqueue, inspect and cancel jobs; the Worker drains them. The catalog is the Worker's own list of types.
        builder.Services.AddJobQueue(builder.Configuration);
        builder.Services.AddSingleton<AuditLog>();
        builder.Services.AddSingleton<QueryEndpoint>();
        builder.Services.AddWorkforceAnalyses(builder.Configuration);
        builder.Services.AddWorkforceJobTypes();
        builder.Services.AddSingleton<IValidateOptions<CachingOptions>, QueryCacheProfilesExist>();
        builder.AddApiKeyAuthentication();

        builder.Services.AddProblemDetails();
        // Binding failures throw in every environment (the framework's default throws only in Development) and become
        // 4xx problem documents naming the parameter (Http/BadRequestProblemHandler).
        builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        builder.Services.AddExceptionHandler<BadRequestProblemHandler>();
        builder.AddRequestLimits();
        builder.AddApiRateLimits();
        builder.AddApiCompression();
        builder.AddApiDocument();

        // The worker's own /health, resolved through service discovery (services__worker__http__0).
        // A health probe reports what it sees now: a 503 or a refused connection is an answer, not a transient
        // fault to retry, so the standard resilience handler is replaced by a plain timeout.
#pragma warning disable EXTEXP0001 // RemoveAllResilienceHandlers is the documented way to opt one client out of the defaults.
        builder.Services.AddHttpClient<WorkerHealthClient>(client => client.BaseAddress = new("https+http://worker"))
            .RemoveAllResilienceHandlers()
            .AddResilienceHandler("health-probe", pipeline => pipeline.AddTimeout(TimeSpan.FromSeconds(3)));
#pragma warning restore EXTEXP0001
    }

    public static WebApplication MapApiReference(this WebApplication app)
    {
        app.MapOpenApi();
        // The document declares the X-Api-Key scheme; the reference offers it first, so a key entered once goes with every
        // request sent from the page (operator endpoints included).
        app.MapScalarApiReference(options => options
            .WithTitle("AspirePerf API")
            .AddPreferredSecuritySchemes([ApiKeyAuthenticationHandler.SchemeName]));
        return app;
    }
}

internal static class ApiReference
{
    /// <summary>
    /// The API answers data; only the Scalar reference is a page. It runs its own bundled script with an inline
    /// configuration block and may fetch its fonts from Scalar's font host.
    /// </summary>
    public static string ContentSecurityPolicy(HttpContext context) =>
        context.Request.Path.StartsWithSegments("/scalar", StringComparison.OrdinalIgnoreCase)
            ? "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
              "font-src 'self' data: https://fonts.scalar.com; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'"
            : SecurityHeaders.DataPolicy;
}

/// <summary>Every registered query's cache profile must be configured: checked at start, not at the first request.</summary>
internal sealed class QueryCacheProfilesExist(QueryRegistry registry) : IValidateOptions<CachingOptions>
{
    public ValidateOptionsResult Validate(string? name, CachingOptions options)
    {
        var missing = registry.All.Where(q => !options.Profiles.ContainsKey(q.CacheProfile))
            .Select(q => $"Query '{q.Id}' uses cache profile '{q.CacheProfile}', which Caching:Profiles does not define.")
            .ToList();
        return missing.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(missing);
    }
}
