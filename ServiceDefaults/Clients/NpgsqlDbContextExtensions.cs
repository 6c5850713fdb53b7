using AspirePerf.ServiceDefaults;
using AspirePerf.ServiceDefaults.Clients;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Equivalent of Aspire.Npgsql.EntityFrameworkCore.PostgreSQL's <c>AddNpgsqlDbContext</c>: same method name,
/// configuration keys, pooled context, retry on transient failures, health-check name (the context's type name)
/// and Npgsql telemetry. Swap for the Aspire package by changing the using; nothing else changes.
/// </summary>
public static class NpgsqlDbContextExtensions
{
    public const string DefaultConfigSectionName = "Aspire:Npgsql:EntityFrameworkCore:PostgreSQL";

    // Second-based buckets Aspire registers for Npgsql's duration histograms.
    private static readonly double[] SecondsBuckets = [0, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

    public static void AddNpgsqlDbContext<TContext>(
        this IHostApplicationBuilder builder,
        string connectionName,
        Action<NpgsqlEntityFrameworkCorePostgreSQLSettings>? configureSettings = null,
        Action<DbContextOptionsBuilder>? configureDbContextOptions = null) where TContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(connectionName);

        var settings = ReadSettings<TContext>(builder.Configuration, connectionName);
        configureSettings?.Invoke(settings);

        builder.Services.AddDbContextPool<TContext>(options =>
        {
            if (string.IsNullOrWhiteSpace(settings.ConnectionString) && !EF.IsDesignTime)
            {
                throw new InvalidOperationException(
                    $"ConnectionString is missing. It should be provided in 'ConnectionStrings:{connectionName}' or under the " +
                    $"'ConnectionString' key in '{DefaultConfigSectionName}' or '{DefaultConfigSectionName}:{typeof(TContext).Name}' configuration section.");
            }

            options.UseNpgsql(settings.ConnectionString, npgsql =>
            {
                if (!settings.DisableRetry)
                {
                    npgsql.EnableRetryOnFailure();
                }
                if (settings.CommandTimeout is { } seconds)
                {
                    npgsql.CommandTimeout(seconds);
                }
            });
            configureDbContextOptions?.Invoke(options);
        });

        if (!settings.DisableHealthChecks && builder.Properties.TryAdd($"Aspire.HealthChecks.{typeof(TContext).Name}", true))
        {
            builder.Services.AddHealthChecks().AddDbContextCheck<TContext>(
                name: typeof(TContext).Name,
                tags: [connectionName]);
        }

        AddNpgsqlTelemetry(builder, settings.DisableTracing, settings.DisableMetrics);
    }

    internal static NpgsqlEntityFrameworkCorePostgreSQLSettings ReadSettings<TContext>(IConfiguration configuration, string connectionName)
    {
        var settings = new NpgsqlEntityFrameworkCorePostgreSQLSettings();
        ClientSettings.Bind(configuration, settings, DefaultConfigSectionName, connectionName, typeof(TContext).Name);
        return settings;
    }

    internal static void AddNpgsqlTelemetry(IHostApplicationBuilder builder, bool disableTracing, bool disableMetrics)
    {
        if (!builder.Properties.TryAdd("AspirePerf.NpgsqlTelemetry", true))
        {
            return;
        }
        if (!disableTracing)
        {
            builder.Services.AddOpenTelemetry().WithTracing(t => t.AddNpgsql());
        }
        if (!disableMetrics)
        {
            builder.Services.AddOpenTelemetry().WithMetrics(m => m
                .AddMeter(TelemetryNames.Npgsql)
                .AddView("db.client.commands.duration", new ExplicitBucketHistogramConfiguration { Boundaries = SecondsBuckets })
                .AddView("db.client.connections.create_time", new ExplicitBucketHistogramConfiguration { Boundaries = SecondsBuckets }));
        }
    }
}
