using AspirePerf.ServiceDefaults;
using AspirePerf.ServiceDefaults.Clients;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Trace;
using StackExchange.Redis;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Equivalent of Aspire.StackExchange.Redis's <c>AddRedisClient</c>: same method name, configuration keys,
/// health-check name and activity source. Aspire's package is not on this project's feed; once it is, replace
/// the call's using with <c>Aspire.StackExchange.Redis</c> and delete this file.
/// </summary>
public static class RedisClientExtensions
{
    public const string DefaultConfigSectionName = "Aspire:StackExchange:Redis";
    public const string HealthCheckName = "StackExchange.Redis";

    public static void AddRedisClient(
        this IHostApplicationBuilder builder,
        string connectionName,
        Action<StackExchangeRedisSettings>? configureSettings = null,
        Action<ConfigurationOptions>? configureOptions = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(connectionName);

        var settings = new StackExchangeRedisSettings();
        var section = ClientSettings.Bind(builder.Configuration, settings, DefaultConfigSectionName, connectionName);
        configureSettings?.Invoke(settings);

        if (string.IsNullOrWhiteSpace(settings.ConnectionString))
        {
            throw new InvalidOperationException(
                $"No endpoints specified. Ensure a valid connection string was provided in 'ConnectionStrings:{connectionName}' " +
                $"or for the '{DefaultConfigSectionName}:ConnectionString' configuration key.");
        }

        var options = ConfigurationOptions.Parse(settings.ConnectionString);
        // Keep retrying in the background instead of failing the host when Redis is not up yet (Aspire does the same).
        options.AbortOnConnectFail = false;
        section.GetSection("ConfigurationOptions").Bind(options);
        section.GetSection(connectionName).GetSection("ConfigurationOptions").Bind(options);
        configureOptions?.Invoke(options);

        builder.Services.AddSingleton<IConnectionMultiplexer>(sp =>
        {
            options.LoggerFactory ??= sp.GetService<ILoggerFactory>();
            return ConnectionMultiplexer.Connect(options);
        });

        if (!settings.DisableTracing && builder.Properties.TryAdd("AspirePerf.RedisTracing", true))
        {
            builder.Services.AddOpenTelemetry().WithTracing(t => t.AddSource(TelemetryNames.Redis));
            builder.Services.AddSingleton<RedisTracing>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<RedisTracing>());
        }

        if (!settings.DisableHealthChecks && builder.Properties.TryAdd($"Aspire.HealthChecks.{connectionName}", true))
        {
            builder.Services.AddHealthChecks().AddRedis(
                sp => sp.GetRequiredService<IConnectionMultiplexer>(),
                name: HealthCheckName,
                tags: [connectionName],
                timeout: TimeSpan.FromSeconds(5));
        }
    }
}
