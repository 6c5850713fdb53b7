using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace AspirePerf.Performance.Profiling;

public static class ProfilingServiceCollectionExtensions
{
    /// <summary>The request profiler; pair with <c>app.UseMiddleware&lt;RequestProfilingMiddleware&gt;()</c> early in the pipeline.</summary>
    public static IServiceCollection AddRequestProfiling(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ProfilingOptions>()
            .Bind(configuration.GetSection(ProfilingOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddMetrics();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<EndpointStatistics>();
        services.AddSingleton<RequestProfiler>();
        services.AddSingleton<SlowQueryLog>();
        services.AddHostedService<SlowQueryPlanCapture>();
        return services;
    }
}
