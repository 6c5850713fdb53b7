using AspirePerf.Worker.Startup;
using AspirePerf.Workforce.Data;

namespace AspirePerf.Worker.Extensions;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDbContext<WorkforceDbContext>("workforce");
        builder.AddRedisClient("cache");

        builder.Services.AddSingleton<DatabaseInitializationState>();
        builder.Services.AddHostedService<DatabaseInitializer>();
        builder.Services.AddHealthChecks()
            .AddCheck<DatabaseInitializationHealthCheck>(DatabaseInitializationHealthCheck.Name, tags: ["workforce"]);
    }
}
