using AspirePerf.ApiService.Apis;
using AspirePerf.Workforce.Data;
using Microsoft.Extensions.Http.Resilience;
using Scalar.AspNetCore;

namespace AspirePerf.ApiService.Extensions;

internal static class Extensions
{
    public const string WorkforceDatabase = "workforce";
    public const string Cache = "cache";

    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDbContext<WorkforceDbContext>(WorkforceDatabase);
        builder.AddRedisClient(Cache);

        builder.Services.AddProblemDetails();
        builder.Services.AddOpenApi();

        // The worker's own /health, resolved through service discovery (services__worker__http__0).
        builder.Services.AddHttpClient<WorkerHealthClient>(client => client.BaseAddress = new("https+http://worker"));
        // A health probe reports what it sees now: a 503 is an answer, not a transient fault to retry or trip on.
        builder.Services.Configure<HttpStandardResilienceOptions>($"{nameof(WorkerHealthClient)}-standard", options =>
        {
            options.Retry.ShouldHandle = _ => ValueTask.FromResult(false);
            options.CircuitBreaker.ShouldHandle = _ => ValueTask.FromResult(false);
            options.AttemptTimeout.Timeout = TimeSpan.FromSeconds(3);
            options.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(5);
        });
    }

    public static WebApplication MapApiReference(this WebApplication app)
    {
        app.MapOpenApi();
        app.MapScalarApiReference(options => options.WithTitle("AspirePerf API"));
        return app;
    }
}
