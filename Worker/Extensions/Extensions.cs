using AspirePerf.Performance.Caching;
using AspirePerf.Performance.Jobs;
using AspirePerf.Worker.Startup;
using AspirePerf.Workforce.Data;
using AspirePerf.Workforce.Extensions;
using AspirePerf.Workforce.Jobs;

namespace AspirePerf.Worker.Extensions;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDbContext<WorkforceDbContext>("workforce", configureDbContextOptions: WorkforceDbContext.Configure);
        // Named, so its pool is a series of its own in /metrics beside EF Core's (same connection string).
        builder.AddNpgsqlDataSource("workforce", configureDataSourceBuilder: dataSource => dataSource.Name = "workforce");
        builder.AddRedisClient("cache");
        builder.Services.AddWorkforceSeeding(builder.Configuration);

        builder.Services.AddSingleton<DatabaseInitializationState>();
        builder.Services.AddHostedService<DatabaseInitializer>();
        builder.Services.AddHealthChecks()
            .AddCheck<DatabaseInitializationHealthCheck>(DatabaseInitializationHealthCheck.Name, tags: ["workforce"]);

        builder.AddJobProcessing();
    }

    /// <summary>
    /// The job processor and its handlers: the workload's types (export; cache-warm every
    /// Jobs:Recurring:cache-warm:Interval, default 5 min, into the same Redis-backed cache as the API), retention
    /// (maintenance) every Jobs:Recurring:maintenance:Interval (default 1 h). Jobs:ProcessorEnabled=false leaves the
    /// queue undrained.
    /// </summary>
    private static void AddJobProcessing(this IHostApplicationBuilder builder)
    {
        builder.Services.AddWorkforceQueries(builder.Configuration);
        builder.Services.AddAdaptiveCaching(builder.Configuration);
        builder.Services.AddRecurringJob(new RecurringJob(CacheWarmJob.TypeName, TimeSpan.FromMinutes(5), new CacheWarmJob()));
        builder.Services.AddJobQueue(builder.Configuration);
        builder.Services.AddWorkforceAnalyses(builder.Configuration);
        builder.Services.AddWorkforceJobTypes();
        builder.Services.AddWorkforceJobHandlers();
        builder.Services.AddJobRetention(TimeSpan.FromHours(1));
        builder.Services.AddJobProcessor(builder.Configuration);
    }
}
