using AspirePerf.ServiceDefaults.Clients;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Equivalent of Aspire.Npgsql's <c>AddNpgsqlDataSource</c> (raw Npgsql next to EF Core: COPY, registry queries):
/// same configuration section, health-check name <c>PostgreSql</c> and telemetry.
/// </summary>
public static class NpgsqlDataSourceExtensions
{
    public const string DefaultConfigSectionName = "Aspire:Npgsql";
    public const string HealthCheckName = "PostgreSql";

    public static void AddNpgsqlDataSource(
        this IHostApplicationBuilder builder,
        string connectionName,
        Action<NpgsqlSettings>? configureSettings = null,
        Action<NpgsqlDataSourceBuilder>? configureDataSourceBuilder = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(connectionName);

        var settings = new NpgsqlSettings();
        ClientSettings.Bind(builder.Configuration, settings, DefaultConfigSectionName, connectionName);
        configureSettings?.Invoke(settings);
        if (string.IsNullOrWhiteSpace(settings.ConnectionString))
        {
            throw new InvalidOperationException(
                $"ConnectionString is missing. It should be provided in 'ConnectionStrings:{connectionName}' or under the " +
                $"'ConnectionString' key in '{DefaultConfigSectionName}' configuration section.");
        }

        builder.Services.AddNpgsqlDataSource(settings.ConnectionString, dataSourceBuilder =>
        {
            dataSourceBuilder.Name = connectionName;
            configureDataSourceBuilder?.Invoke(dataSourceBuilder);
        });

        if (!settings.DisableHealthChecks && builder.Properties.TryAdd($"Aspire.HealthChecks.{HealthCheckName}.{connectionName}", true))
        {
            builder.Services.AddHealthChecks().AddNpgSql(
                sp => sp.GetRequiredService<NpgsqlDataSource>(), name: HealthCheckName, tags: [connectionName], timeout: TimeSpan.FromSeconds(5));
        }

        NpgsqlDbContextExtensions.AddNpgsqlTelemetry(builder, settings.DisableTracing, settings.DisableMetrics);
    }
}
