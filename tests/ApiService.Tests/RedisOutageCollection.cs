using AspirePerf.TestSupport;

namespace AspirePerf.ApiService.Tests;

/// <summary>
/// The classes whose time goes mostly into waiting for the API to notice a stopped Redis (operation timeouts, health
/// checks, reconnects): RateLimitTests, RedisOutageTests and PerfDashboardTests. They get a PostgreSQL and a Redis of
/// their own, so xunit runs them beside the main collection instead of after it: their waiting costs the other tests
/// no CPU, and no test here touches the main collection's servers (each stopped Redis is the test's own).
/// </summary>
[CollectionDefinition(Name)]
public sealed class RedisOutageCollection : ICollectionFixture<InfrastructureFixture>
{
    public const string Name = "redis outages";
}
