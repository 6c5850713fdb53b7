using AspirePerf.AppHost.Local.Launcher;
using AspirePerf.TestSupport;

namespace AspirePerf.AppHost.Local.Tests;

/// <summary>The variables a project receives are the ones Aspire 13's AppHost would inject (docs/aspire-apphost.md).</summary>
public sealed class AspireEnvironmentTests
{
    [Fact]
    public void Project_defaults_match_aspire_run_mode()
    {
        var env = AspireEnvironment.ForProject("apiservice", new Uri("http://localhost:5380"), "Development", otlpEndpoint: null).Variables;

        Assert.Equal("http://localhost:5380", env["ASPNETCORE_URLS"]);
        Assert.Equal("apiservice", env["OTEL_SERVICE_NAME"]);
        Assert.StartsWith("service.instance.id=apiservice-", env["OTEL_RESOURCE_ATTRIBUTES"], StringComparison.Ordinal);
        Assert.Equal("Development", env["ASPNETCORE_ENVIRONMENT"]);
        Assert.Equal("in_memory", env["OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY"]);
        Assert.Equal("1000", env["OTEL_BSP_SCHEDULE_DELAY"]);
        Assert.Equal("always_on", env["OTEL_TRACES_SAMPLER"]);
        Assert.False(env.ContainsKey("OTEL_EXPORTER_OTLP_ENDPOINT"), "no collector configured, so no OTLP endpoint is injected");
    }

    [Fact]
    public void Otlp_endpoint_is_injected_only_when_configured()
    {
        var env = AspireEnvironment.ForProject("worker", new Uri("http://localhost:5382"), "Production", new Uri("http://localhost:4317")).Variables;

        Assert.Equal("http://localhost:4317", env["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        Assert.Equal("grpc", env["OTEL_EXPORTER_OTLP_PROTOCOL"]);
        Assert.False(env.ContainsKey("OTEL_BSP_SCHEDULE_DELAY"), "Development-only batching is not set in Production");
    }

    [Fact]
    public void Project_reference_injects_service_discovery_and_endpoint_variables()
    {
        var worker = new ProjectResource("worker", "AspirePerf.Worker", new Uri("http://localhost:5382"));

        var env = AspireEnvironment.ForProject("apiservice", new Uri("http://localhost:5380"), "Development", null)
            .WithProjectReference(worker).Variables;

        Assert.Equal("http://localhost:5382", env["services__worker__http__0"]);
        Assert.Equal("http://localhost:5382", env["WORKER_HTTP"]);
    }
}

/// <summary>Postgres and Redis references, checked against running servers so the strings are the ones that connect.</summary>
[Collection(InfrastructureCollection.Name)]
public sealed class AspireEnvironmentReferenceTests(InfrastructureFixture infrastructure)
{
    [Fact]
    public void Database_and_cache_references_have_aspires_connection_string_shapes_and_properties()
    {
        var postgres = infrastructure.Postgres;
        var redis = infrastructure.Redis;

        var env = AspireEnvironment.ForProject("worker", new Uri("http://localhost:5382"), "Development", null)
            .WithPostgresDatabase("workforce", postgres)
            .WithRedis("cache", redis).Variables;

        Assert.Equal($"Host=localhost;Port={postgres.Port};Username=postgres;Password={postgres.Password};Database=workforce", env["ConnectionStrings__workforce"]);
        Assert.Equal("localhost", env["WORKFORCE_HOST"]);
        Assert.Equal(postgres.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), env["WORKFORCE_PORT"]);
        Assert.Equal("postgres", env["WORKFORCE_USERNAME"]);
        Assert.Equal("workforce", env["WORKFORCE_DATABASENAME"]);
        Assert.Equal($"postgresql://postgres:{postgres.Password}@localhost:{postgres.Port}/workforce", env["WORKFORCE_URI"]);
        Assert.Equal($"jdbc:postgresql://localhost:{postgres.Port}/workforce", env["WORKFORCE_JDBCCONNECTIONSTRING"]);
        Assert.Equal($"localhost:{redis.Port},password={redis.Password}", env["ConnectionStrings__cache"]);
        Assert.Equal($"redis://:{redis.Password}@localhost:{redis.Port}", env["CACHE_URI"]);
    }
}
