using AspirePerf.TestSupport.Servers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace AspirePerf.ApiService.Tests;

/// <summary>
/// The ApiService in-process, configured exactly as a host configures it: connection strings and service
/// discovery through the keys Aspire injects.
/// </summary>
public sealed class ApiFactory(
    string workforceConnectionString,
    string cacheConnectionString,
    int? workerPort = null,
    Dictionary<string, string>? settings = null,
    string environment = "Development",
    Action<Microsoft.Extensions.DependencyInjection.IServiceCollection>? services = null)
    : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(environment);
        builder.UseSetting("ConnectionStrings:workforce", workforceConnectionString);
        builder.UseSetting("ConnectionStrings:cache", cacheConnectionString);
        // No worker runs in these tests: point discovery at a port nothing listens on, so its row is honest.
        builder.UseSetting("services:worker:http:0", $"http://localhost:{workerPort ?? FreePort.Next()}");
        // Test classes share one Redis: a namespace of their own keeps one class's cached answers from another's database.
        builder.UseSetting("Caching:Namespace", "t" + Guid.NewGuid().ToString("N")[..12]);
        // Likewise for rate limits counted in Redis: each host counts its callers on its own, so how fast other tests
        // ran never uses up this one's limit (tests of a limit shared between hosts give both the same prefix).
        builder.UseSetting("RateLimits:KeyPrefix", "t" + Guid.NewGuid().ToString("N")[..12]);
        foreach (var (key, value) in settings ?? [])
        {
            builder.UseSetting(key, value);
        }
        if (services is not null)
        {
            Microsoft.AspNetCore.TestHost.WebHostBuilderExtensions.ConfigureTestServices(builder, services);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class InfrastructureCollection : ICollectionFixture<AspirePerf.TestSupport.InfrastructureFixture>
{
    public const string Name = "infrastructure";
}
