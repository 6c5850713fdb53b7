using AspirePerf.Worker.Startup;
using AspirePerf.Workforce.Data;
using AspirePerf.Workforce.Extensions;

namespace AspirePerf.Worker.Extensions;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDbContext<WorkforceDbContext>("workforce", configureDbContextOptions: WorkforceDbContext.Configure);
        builder.AddNpgsqlDataSource("workforce");
        builder.AddRedisClient("cache");
        builder.Services.AddWorkforceSeeding(builder.Configuration);

        builder.Services.AddSingleton<DatabaseInitializationState>();
        builder.Services.AddHostedService<DatabaseInitializer>();
        builder.Services.AddHealthChecks()
            .AddCheck<DatabaseInitializationHealthCheck>(DatabaseInitializationHealthCheck.Name, tags: ["workforce"]);
    }
}
