// The Aspire AppHost: every resource of AspirePerf, run by Aspire's orchestrator and watched in the Aspire dashboard.
// PostgreSQL and Redis are containers where a container runtime answers and local executables where none does
// (AppHost:Infrastructure = auto | containers | executables); the services cannot tell which. Prometheus follows the
// same choice; Grafana runs only as a container.
using AspirePerf.AppHost.Infrastructure;
using AspirePerf.AppHost.Monitoring;
using Microsoft.Extensions.Configuration;

namespace AspirePerf.AppHost;

// A named entry point rather than top-level statements: test projects reference this assembly next to services whose
// Program class must stay unambiguous for WebApplicationFactory<Program>.
internal static class AppHostProgram
{
    public static int Main(string[] args)
    {
        var builder = DistributedApplication.CreateBuilder(args);
        var settings = AppHostSettings.Read(builder.Configuration);

        var choice = InfrastructureChoice.Decide(settings.Infrastructure, builder.ExecutionContext.IsPublishMode, () =>
            ContainerRuntimeProbe.Probe(ContainerRuntimeProbe.RuntimeName(Environment.GetEnvironmentVariable), TimeSpan.FromSeconds(settings.ContainerRuntimeProbeSeconds)));
        if (choice.Error is { } error)
        {
            Console.Error.WriteLine(error);
            return 2;
        }
        Console.WriteLine($"[apphost] infrastructure: {choice.Mode.ToString().ToLowerInvariant()} ({choice.Reason})");

        InfrastructureResources infrastructure;
        try
        {
            infrastructure = choice.Mode == InfrastructureMode.Containers
                ? builder.AddContainerInfrastructure(settings)
                : builder.AddExecutableInfrastructure(settings);
        }
        catch (MissingBinaryException missing)
        {
            Console.Error.WriteLine(missing.Message);
            return 2;
        }

        // The key the Aspire dashboard's operator commands send; generated once and kept in the AppHost's user secrets.
        var operatorKey = builder.AddParameter("operator-api-key", new GenerateParameterDefault { MinLength = 32, Special = false }, secret: true, persist: true);
        // Keyset page cursors are signed: every node that issues or reads them (the API, and the worker's cache warming) shares this.
        var cursorKey = builder.AddParameter("cursor-signing-key", new GenerateParameterDefault { MinLength = 48, Special = false }, secret: true, persist: true);

        // The worker migrates and seeds; its /health stays unhealthy until that is done, so waiting for it means the schema exists.
        var worker = builder.AddProject<Projects.AspirePerf_Worker>("worker")
            .WithReference(infrastructure.Workforce).WaitFor(infrastructure.Workforce)
            .WithReference(infrastructure.Cache).WaitFor(infrastructure.Cache)
            .WithEnvironment("Queries__CursorSigningKey", cursorKey)
            .WithPort(settings.Ports.Worker)
            .WithHttpHealthCheck("/health")
            .WithServiceUrls();
        if (settings.SeedingScale is { } scale)
        {
            worker.WithEnvironment("Seeding__Scale", scale.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        var apiService = builder.AddProject<Projects.AspirePerf_ApiService>("apiservice")
            .WithReference(infrastructure.Workforce)
            .WithReference(infrastructure.Cache)
            .WithReference(worker) // services__worker__http__0: the API reports the worker's health
            .WaitFor(worker)
            .WithEnvironment("ApiKeys__Keys__apphost__Name", "aspire-dashboard")
            .WithEnvironment("ApiKeys__Keys__apphost__Key", operatorKey)
            .WithEnvironment("ApiKeys__Keys__apphost__Roles__0", "operator")
            .WithEnvironment("Queries__CursorSigningKey", cursorKey)
            .WithPort(settings.Ports.ApiService)
            .WithHttpHealthCheck("/health")
            .WithServiceUrls(("/scalar/v1", "API reference (Scalar)"), ("/openapi/v1.json", "OpenAPI document"))
            .WithOperatorCommands(operatorKey);
        // Extra configuration for the API as AppHost:ApiServiceSettings:<section>:<key>=value (the end-to-end tests lower
        // the slow-query threshold with it, so a small seeded database still has slow statements to show).
        foreach (var (key, value) in builder.Configuration.GetSection("AppHost:ApiServiceSettings").AsEnumerable(makePathsRelative: true))
        {
            if (value is not null)
            {
                apiService.WithEnvironment(key.Replace(":", "__", StringComparison.Ordinal), value);
            }
        }

        var dashboard = builder.AddProject<Projects.AspirePerf_Dashboard_Web>("dashboard")
            .WithReference(apiService)
            .WaitFor(apiService)
            .WithExternalHttpEndpoints()
            .WithPort(settings.Ports.Dashboard)
            .WithHttpHealthCheck("/health")
            .WithServiceUrls(("/", "Performance console"));

        if (settings.TraceSampleRatio is { } ratio)
        {
            foreach (var project in new[] { worker, apiService, dashboard })
            {
                project.WithTraceSampling(ratio);
            }
        }

        // Prometheus scrapes every service's /metrics and evaluates eng/prometheus/rules; Grafana comes with containers only.
        var monitoring = MonitoringResources.Add(builder, choice.Mode, settings, [apiService, worker, dashboard]);
        dashboard.WithConsoleSources(builder, settings, monitoring);
        foreach (var note in monitoring.Notes)
        {
            Console.WriteLine($"[apphost] {note}");
        }

        builder.PrintUrlsWhenReady(dashboard, apiService, worker, monitoring);

        builder.Build().Run();
        return 0;
    }
}
