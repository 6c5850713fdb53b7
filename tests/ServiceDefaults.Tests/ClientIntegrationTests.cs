using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql.EntityFrameworkCore.PostgreSQL;
using StackExchange.Redis;

namespace AspirePerf.ServiceDefaults.Tests;

/// <summary>The client integrations read Aspire's configuration keys and register Aspire's health-check names.</summary>
public sealed class ClientIntegrationTests
{
    private static HostApplicationBuilder Builder(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings);
        return builder;
    }

    [Fact]
    public void Redis_client_reads_the_connection_string_and_aspires_configuration_options_and_never_aborts_on_connect_fail()
    {
        var builder = Builder(new()
        {
            ["ConnectionStrings:cache"] = "localhost:1,password=secret",
            ["Aspire:StackExchange:Redis:ConfigurationOptions:ConnectTimeout"] = "250",
            ["Aspire:StackExchange:Redis:cache:ConfigurationOptions:ClientName"] = "tests",
        });

        builder.AddRedisClient("cache");
        using var host = builder.Build();
        using var multiplexer = host.Services.GetRequiredService<IConnectionMultiplexer>();
        var configuration = ConfigurationOptions.Parse(multiplexer.Configuration);

        // Aspire's defaults provider turns AbortOnConnectFail off (it is not in the configuration string): resolving the
        // client with nothing listening does not throw, as the last assertion shows.
        Assert.Equal(250, configuration.ConnectTimeout);
        Assert.Equal("tests", configuration.ClientName);
        Assert.Equal("secret", configuration.Password);
        Assert.False(multiplexer.IsConnected, "nothing listens on port 1, yet resolving the client did not throw");
    }

    [Fact]
    public void Redis_client_without_a_connection_string_says_which_keys_it_read()
    {
        var builder = Builder([]);
        builder.AddRedisClient("cache");
        using var host = builder.Build();

        // Aspire reads the connection string when the client is first resolved, and names the keys it read.
        var error = Assert.Throws<InvalidOperationException>(() => host.Services.GetRequiredService<IConnectionMultiplexer>());

        Assert.Contains("ConnectionStrings:cache", error.Message, StringComparison.Ordinal);
        Assert.Contains("Aspire:StackExchange:Redis:ConnectionString", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Health_checks_carry_aspires_names_and_are_registered_once_per_connection()
    {
        var builder = Builder(new()
        {
            ["ConnectionStrings:cache"] = "localhost:1",
            ["ConnectionStrings:appdb"] = "Host=localhost;Port=1;Username=u;Password=p;Database=appdb",
        });

        builder.AddRedisClient("cache");
        builder.AddRedisClient("cache");
        builder.AddNpgsqlDbContext<SampleDbContext>("appdb");
        using var host = builder.Build();
        var names = host.Services.GetRequiredService<IOptions<HealthCheckServiceOptions>>().Value.Registrations.Select(r => r.Name).ToList();

        Assert.Equal(1, names.Count(n => n == "StackExchange.Redis"));
        Assert.Contains(nameof(SampleDbContext), names);
        Assert.All(host.Services.GetRequiredService<IOptions<HealthCheckServiceOptions>>().Value.Registrations,
            r => Assert.DoesNotContain("live", r.Tags));
    }

    [Fact]
    public void DbContext_gets_retry_and_command_timeout_from_aspires_section_with_the_connection_string_winning()
    {
        var builder = Builder(new()
        {
            ["ConnectionStrings:appdb"] = "Host=localhost;Port=1;Username=u;Password=p;Database=appdb",
            ["Aspire:Npgsql:EntityFrameworkCore:PostgreSQL:ConnectionString"] = "Host=elsewhere;Database=wrong",
            ["Aspire:Npgsql:EntityFrameworkCore:PostgreSQL:CommandTimeout"] = "17",
        });

        builder.AddNpgsqlDbContext<SampleDbContext>("appdb");
        using var host = builder.Build();
        using var scope = host.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<SampleDbContext>();

        Assert.Equal(17, db.Database.GetCommandTimeout());
        Assert.IsType<NpgsqlRetryingExecutionStrategy>(db.Database.CreateExecutionStrategy());
        Assert.Contains("Host=localhost", db.Database.GetConnectionString(), StringComparison.Ordinal);
    }

    [Fact]
    public void DbContext_retry_can_be_disabled_per_context_type()
    {
        var builder = Builder(new()
        {
            ["ConnectionStrings:appdb"] = "Host=localhost;Port=1;Username=u;Password=p;Database=appdb",
            [$"Aspire:Npgsql:EntityFrameworkCore:PostgreSQL:{nameof(SampleDbContext)}:DisableRetry"] = "true",
        });

        builder.AddNpgsqlDbContext<SampleDbContext>("appdb");
        using var host = builder.Build();
        using var scope = host.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<SampleDbContext>();

        Assert.IsNotType<NpgsqlRetryingExecutionStrategy>(db.Database.CreateExecutionStrategy());
    }

    [Fact]
    public void DbContext_without_a_connection_string_fails_with_aspires_message()
    {
        var builder = Builder([]);
        builder.AddNpgsqlDbContext<SampleDbContext>("appdb");
        using var host = builder.Build();
        using var scope = host.Services.CreateScope();

        var error = Assert.Throws<InvalidOperationException>(() => scope.ServiceProvider.GetRequiredService<SampleDbContext>());

        Assert.Contains("ConnectionStrings:appdb", error.Message, StringComparison.Ordinal);
    }

    public sealed class SampleDbContext(DbContextOptions<SampleDbContext> options) : DbContext(options);
}
