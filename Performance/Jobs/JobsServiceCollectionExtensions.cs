using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace AspirePerf.Performance.Jobs;

public static partial class JobsServiceCollectionExtensions
{
    /// <summary>
    /// The queue (enqueue, read, cancel, retry, statistics), its file store and metrics, options from <c>Jobs</c>.
    /// Needs an <c>NpgsqlDataSource</c> registration; the tables live in its database's <c>jobs</c> schema.
    /// </summary>
    public static IServiceCollection AddJobQueue(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<JobsOptions>()
            .Bind(configuration.GetSection(JobsOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<JobMetrics>();
        services.TryAddSingleton<PostgresJobQueue>();
        services.TryAddSingleton<PostgresJobFileStore>();
        services.TryAddSingleton(sp => new JobCatalog(sp.GetServices<JobTypeRegistration>()));
        return services;
    }

    /// <summary>Makes a job type known (API validation, enqueue); the Worker also registers its handler.</summary>
    public static IServiceCollection AddJobType<TPayload>(this IServiceCollection services, string type,
        Func<TPayload, IServiceProvider, IDictionary<string, string[]>?>? validate = null)
    {
        if (!TypeName().IsMatch(type))
        {
            throw new ArgumentException($"Job type '{type}' must be 1 to 64 lowercase letters, digits or dashes.", nameof(type));
        }
        services.AddSingleton(new JobTypeRegistration(type, typeof(TPayload))
        {
            Validate = validate is null ? null : (payload, sp) => validate((TPayload)payload, sp),
        });
        return services;
    }

    public static IServiceCollection AddJobHandler<TPayload, THandler>(this IServiceCollection services, string type)
        where THandler : class, IJobHandler<TPayload>
    {
        if (!services.Any(d => d.ServiceType == typeof(JobTypeRegistration) && d.ImplementationInstance is JobTypeRegistration r && r.Name == type))
        {
            services.AddJobType<TPayload>(type);
        }
        services.TryAddScoped<THandler>();
        services.AddSingleton(JobHandlerRegistration.For<TPayload, THandler>(type));
        return services;
    }

    public static IServiceCollection AddJobBatchHandler<TPayload, THandler>(this IServiceCollection services, string type)
        where THandler : class, IJobBatchHandler<TPayload>
    {
        if (!services.Any(d => d.ServiceType == typeof(JobTypeRegistration) && d.ImplementationInstance is JobTypeRegistration r && r.Name == type))
        {
            services.AddJobType<TPayload>(type);
        }
        services.TryAddScoped<THandler>();
        services.AddSingleton(JobHandlerRegistration.ForBatch<TPayload, THandler>(type));
        return services;
    }

    /// <summary>
    /// The processor (a hosted service) and this process's single notification listener. The processor migrates the
    /// <c>jobs</c> schema at start. Jobs:ProcessorEnabled=false registers neither.
    /// </summary>
    public static IServiceCollection AddJobProcessor(this IServiceCollection services, IConfiguration configuration)
    {
        if (!configuration.GetValue($"{JobsOptions.SectionName}:{nameof(JobsOptions.ProcessorEnabled)}", true))
        {
            return services;
        }
        services.TryAddSingleton<JobNotificationListener>();
        services.AddHostedService(sp => sp.GetRequiredService<JobNotificationListener>());
        services.TryAddSingleton<JobProcessor>();
        services.AddHostedService(sp => sp.GetRequiredService<JobProcessor>());
        return services;
    }

    /// <summary>The built-in retention job (<c>maintenance</c>), enqueued every <paramref name="interval"/>.</summary>
    public static IServiceCollection AddJobRetention(this IServiceCollection services, TimeSpan interval)
    {
        services.AddJobHandler<JobRetentionPayload, JobRetentionHandler>(JobRetentionHandler.TypeName);
        services.AddRecurringJob(new RecurringJob(JobRetentionHandler.TypeName, interval, new JobRetentionPayload()));
        return services;
    }

    public static IServiceCollection AddRecurringJob(this IServiceCollection services, RecurringJob job)
    {
        services.AddSingleton(job);
        if (!services.Any(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(RecurringJobScheduler)))
        {
            services.AddHostedService<RecurringJobScheduler>();
        }
        return services;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,63}$")]
    private static partial Regex TypeName();

}
