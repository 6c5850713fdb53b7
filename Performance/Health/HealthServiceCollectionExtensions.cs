using AspirePerf.Performance.Database;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AspirePerf.Performance.Health;

public static class HealthServiceCollectionExtensions
{
    /// <summary>The overall status's thresholds (section <c>PerfDashboard</c>, validated at start) and the pool reader.</summary>
    public static IServiceCollection AddPerfDashboard(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<PerfDashboardOptions>()
            .Bind(configuration.GetSection(PerfDashboardOptions.SectionName))
            .ValidateDataAnnotations()
            .Validate(o => o.SlowEndpointCriticalMs >= o.SlowEndpointMs, "PerfDashboard:SlowEndpointCriticalMs must be at least PerfDashboard:SlowEndpointMs.")
            .Validate(o => o.EndpointErrorRateCritical >= o.EndpointErrorRate, "PerfDashboard:EndpointErrorRateCritical must be at least PerfDashboard:EndpointErrorRate.")
            .Validate(o => o.JobBacklogAgeCritical >= o.JobBacklogAge, "PerfDashboard:JobBacklogAgeCritical must be at least PerfDashboard:JobBacklogAge.")
            .Validate(o => o.PoolBusyCritical >= o.PoolBusy, "PerfDashboard:PoolBusyCritical must be at least PerfDashboard:PoolBusy.")
            .ValidateOnStart();
        services.TryAddSingleton<NpgsqlPoolUsage>();
        services.TryAddSingleton(TimeProvider.System);
        return services;
    }
}
