using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AspirePerf.Performance.Database;

public static class DatabaseServiceCollectionExtensions
{
    /// <summary>
    /// pg_stat_statements view and the index advisor. Needs an <c>NpgsqlDataSource</c> and the request profiler
    /// (its slow-query log is part of the advisor's workload); an <see cref="IStatementSamples"/> makes plans exact.
    /// </summary>
    public static IServiceCollection AddIndexAdvisor(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<IndexAdvisorOptions>()
            .Bind(configuration.GetSection(IndexAdvisorOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ServerStatements>();
        services.TryAddSingleton<IndexAdvisor>();
        return services;
    }
}
