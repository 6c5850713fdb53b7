using System.Diagnostics;
using AspirePerf.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace AspirePerf.ServiceDefaults.Tests;

[CollectionDefinition(Name)]
public sealed class InfrastructureCollection : ICollectionFixture<InfrastructureFixture>
{
    public const string Name = "infrastructure";
}

/// <summary>
/// Aspire.StackExchange.Redis carries the OpenTelemetry Redis instrumentation: commands become client spans under the
/// span that issued them. It drains StackExchange.Redis's profiling sessions on its own schedule, so the test waits.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class RedisTracingTests(InfrastructureFixture infrastructure)
{
    [Fact]
    public async Task Each_command_becomes_a_client_span_of_the_issuing_activity()
    {
        var spans = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is TelemetryNames.Redis or "tests",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                lock (spans)
                {
                    spans.Add(a);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:cache"] = infrastructure.Redis.ConnectionString });
        builder.AddRedisClient("cache");
        using var host = builder.Build();
        await host.StartAsync();
        var redis = host.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
        using var source = new ActivitySource("tests");

        string parentId;
        using (var parent = source.StartActivity("parent")!)
        {
            parentId = parent.Id!;
            await redis.StringSetAsync("tracing:key", "value");
            await redis.StringGetAsync("tracing:key");
        }
        var commands = await Eventually.ReturnsAsync(() =>
        {
            lock (spans)
            {
                return Task.FromResult<Activity[]>([.. spans.Where(s => s.Source.Name == TelemetryNames.Redis)]);
            }
        }, found => found.Any(s => s.DisplayName == "GET"), TimeSpan.FromSeconds(30), "a GET span from the Redis instrumentation");
        await host.StopAsync();
        Assert.Contains(commands, s => s.DisplayName == "SET");
        var get = Assert.Single(commands, s => s.DisplayName == "GET");
        Assert.Equal(parentId, get.ParentId);
        Assert.Equal(ActivityKind.Client, get.Kind);
        Assert.Equal("redis", get.GetTagItem("db.system"));
        Assert.True(get.Duration > TimeSpan.Zero);
    }
}
