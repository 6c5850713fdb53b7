using AspirePerf.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AspirePerf.ApiService.Tests;

/// <summary>The query data source's pool size comes from configuration, and Npgsql's pool metrics reach /metrics.</summary>
[Collection(InfrastructureCollection.Name)]
public sealed class PoolHygieneTests(InfrastructureFixture infrastructure)
{
    [Fact]
    public async Task Pool_size_is_configured_and_pool_metrics_are_exported()
    {
        var database = await infrastructure.CreateSeededDatabaseAsync("pool", scale: 1_000);
        await using var factory = new ApiFactory(database, infrastructure.Redis.ConnectionString, settings: new() { ["Database:MaxPoolSize"] = "7" });
        using var client = factory.CreateClient();
        (await client.GetAsync("/api/v1/queries/employer-profile?employerId=1")).Dispose();

        var dataSource = factory.Services.GetRequiredService<NpgsqlDataSource>();
        var metrics = await Eventually.ReturnsAsync(() => client.GetStringAsync("/metrics"),
            m => m.Contains("db_client_connection_max", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "Npgsql pool metrics in /metrics");

        Assert.Equal(7, new NpgsqlConnectionStringBuilder(dataSource.ConnectionString).MaxPoolSize);
        Assert.Contains(metrics.Split('\n'), l => l.StartsWith("db_client_connection_max", StringComparison.Ordinal) && l.TrimEnd().EndsWith(" 7", StringComparison.Ordinal));
        Assert.Contains("db_client_connections_usage", metrics, StringComparison.Ordinal);
    }
}
