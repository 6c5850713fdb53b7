using AspirePerf.Performance.Database;
using AspirePerf.Performance.Database.Queries;
using AspirePerf.Performance.Orchestration;
using AspirePerf.Workforce.Analyses;
using AspirePerf.Workforce.Data;
using AspirePerf.Workforce.Queries;
using AspirePerf.Workforce.Seeding;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AspirePerf.Workforce.Extensions;

public static class WorkforceServiceCollectionExtensions
{
    /// <summary>The query registry and its executor. Needs an <c>NpgsqlDataSource</c> for the workforce database.</summary>
    public static IServiceCollection AddWorkforceQueries(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<QueryExecutionOptions>()
            .Bind(configuration.GetSection(QueryExecutionOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.TryAddSingleton(new QueryRegistry(WorkforceQueries.All));
        services.TryAddSingleton<QueryExecutor>();
        services.TryAddSingleton<QueryCursors>();
        services.TryAddSingleton<IStatementSamples, RegistryStatementSamples>();
        return services;
    }

    /// <summary>
    /// The registered analyses and their runner (both modes). Every graph is validated here, so a broken one fails the
    /// start with a message naming it. Needs AddWorkforceQueries, AddAdaptiveCaching and AddJobQueue.
    /// </summary>
    public static IServiceCollection AddWorkforceAnalyses(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<OrchestrationOptions>()
            .Bind(configuration.GetSection(OrchestrationOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.TryAddSingleton(new AnalysisRegistry(WorkforceAnalyses.All, new QueryRegistry(WorkforceQueries.All)));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<OrchestrationTelemetry>();
        services.TryAddSingleton<AnalysisRunner>();
        services.TryAddSingleton<CachedQueryStepRunner>();
        services.TryAddSingleton<IQueryStepRunner>(sp => sp.GetRequiredService<CachedQueryStepRunner>());
        services.TryAddSingleton<QueueStepRunner>();
        return services;
    }

    /// <summary>Migration and seeding at start. Needs the workforce <c>NpgsqlDataSource</c> and <see cref="WorkforceDbContext"/>.</summary>
    public static IServiceCollection AddWorkforceSeeding(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SeedingOptions>()
            .Bind(configuration.GetSection(SeedingOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<WorkforceSeeder>();
        services.TryAddSingleton<WorkforceDatabaseInitializer>();
        return services;
    }
}
