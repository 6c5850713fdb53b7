using AspirePerf.AppHost.Monitoring;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AspirePerf.AppHost;

public static partial class ProjectResourceExtensions
{
    /// <summary>
    /// The loopback port of the project's <c>http</c> endpoint (from its launch profile); 0 lets the orchestrator choose.
    /// Not proxied: the service itself listens there, so clients and benchmarks measure the service, not an
    /// orchestrator proxy in front of every request.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithPort(this IResourceBuilder<ProjectResource> project, int port) =>
        project.WithEndpoint("http", endpoint =>
        {
            endpoint.Port = PortSettings.OrDynamic(port);
            endpoint.IsProxied = false;
        });

    /// <summary>
    /// The URLs an operator opens from the project's row: the given pages, then health and metrics. The plain
    /// endpoint URL stays listed under its own name.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithServiceUrls(this IResourceBuilder<ProjectResource> project, params (string Path, string Text)[] pages)
    {
        ArgumentNullException.ThrowIfNull(project);
        return project.WithUrls(context =>
        {
            var http = context.Urls.FirstOrDefault(u => u.Endpoint?.EndpointName == "http");
            if (http is null)
            {
                return;
            }
            var root = http.Url.TrimEnd('/');
            foreach (var (path, text) in pages.Concat([("/health", "Health (JSON)"), ("/metrics", "Prometheus metrics")]))
            {
                context.Urls.Add(new ResourceUrlAnnotation { Url = root + path, DisplayText = text, Endpoint = http.Endpoint });
            }
        });
    }

    /// <summary>
    /// What the performance console reads besides the API: Prometheus (history across nodes and restarts, through
    /// service discovery), the Aspire dashboard's address (links to a request's trace), and the SLA runner's results
    /// and baselines on disk.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithConsoleSources(this IResourceBuilder<ProjectResource> console,
        IDistributedApplicationBuilder builder, AppHostSettings settings, MonitoringResources monitoring)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(monitoring);
        if (monitoring.Prometheus is { } prometheus)
        {
            console.WithEnvironment("services__prometheus__http__0", prometheus.GetEndpoint(PrometheusResources.EndpointName));
        }
        if (builder.Configuration["ASPNETCORE_URLS"]?.Split(';')[0] is { Length: > 0 } aspireDashboard)
        {
            console.WithEnvironment("Console__AspireDashboardUrl", aspireDashboard);
        }
        var repository = Path.GetFullPath(Path.Combine(builder.AppHostDirectory, ".."));
        return console
            .WithEnvironment("Console__SlaResultsDirectory", Path.GetFullPath(settings.SlaResultsDirectory ?? Path.Combine(repository, "artifacts", "sla")))
            .WithEnvironment("Console__SlaBaselinesDirectory", Path.Combine(repository, "Bench", "baselines"));
    }

    /// <summary>Records and exports that share of traces (OpenTelemetry's standard sampler variables; a trace sampled
    /// upstream stays sampled), in place of Aspire's development default of every trace.</summary>
    public static IResourceBuilder<ProjectResource> WithTraceSampling(this IResourceBuilder<ProjectResource> project, double ratio) =>
        project.WithEnvironment("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
            .WithEnvironment("OTEL_TRACES_SAMPLER_ARG", ratio.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>
    /// Prints every URL once the last resource is healthy (Prometheus, or Grafana after it, when they run: they wait for
    /// the services), so a terminal user sees where everything is.
    /// </summary>
    public static void PrintUrlsWhenReady(this IDistributedApplicationBuilder builder, IResourceBuilder<ProjectResource> dashboard,
        IResourceBuilder<ProjectResource> apiService, IResourceBuilder<ProjectResource> worker, MonitoringResources monitoring)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(dashboard);
        ArgumentNullException.ThrowIfNull(monitoring);
        IResource last = monitoring.Grafana?.Resource ?? monitoring.Prometheus?.Resource ?? dashboard.Resource;
        builder.Eventing.Subscribe<ResourceReadyEvent>(last, (e, _) =>
        {
            var logger = e.Services.GetRequiredService<ILoggerFactory>().CreateLogger("AspirePerf.AppHost");
            if (!logger.IsEnabled(LogLevel.Information))
            {
                return Task.CompletedTask;
            }
            var api = apiService.GetEndpoint("http").Url;
            var lines = new List<string>
            {
                "AspirePerf is running. Ctrl+C stops everything.",
                $"  Aspire dashboard     {builder.Configuration["ASPNETCORE_URLS"]?.Split(';')[0]}",
                $"  performance console  {dashboard.GetEndpoint("http").Url}",
                $"  API                  {api}  (reference {api}/scalar/v1, OpenAPI {api}/openapi/v1.json)",
                $"  worker               {worker.GetEndpoint("http").Url}",
                "  every service         /health, /alive, /metrics",
            };
            if (monitoring.Prometheus is { } prometheus)
            {
                var url = prometheus.GetEndpoint(PrometheusResources.EndpointName).Url;
                lines.Add($"  Prometheus           {url}  (alerts {url}/alerts)");
            }
            if (monitoring.Grafana is { } grafana)
            {
                lines.Add($"  Grafana              {grafana.GetEndpoint("http").Url}");
            }
            var text = string.Join(Environment.NewLine, lines);
            LogUrls(logger, text);
            return Task.CompletedTask;
        });
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Urls}")]
    private static partial void LogUrls(ILogger logger, string urls);
}
