using AspirePerf.AppHost.Infrastructure;

namespace AspirePerf.AppHost.Monitoring;

/// <summary>
/// Prometheus and Grafana for the services, in the way the infrastructure was chosen: both as containers, or Prometheus
/// as Debian's executable and no Grafana. <see cref="Notes"/> are lines for the console saying what was left out and why.
/// </summary>
public sealed record MonitoringResources(IResourceBuilder<IResourceWithEndpoints>? Prometheus, IResourceBuilder<IResourceWithEndpoints>? Grafana, IReadOnlyList<string> Notes)
{
    public static MonitoringResources Add(IDistributedApplicationBuilder builder, InfrastructureMode mode, AppHostSettings settings,
        IReadOnlyList<IResourceBuilder<ProjectResource>> services)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(settings);
        if (!settings.Prometheus.Enabled)
        {
            return new(null, null, ["prometheus and grafana: off (AppHost:Prometheus:Enabled=false)"]);
        }
        var eng = Path.GetFullPath(Path.Combine(builder.AppHostDirectory, "..", "eng"));
        var rulesDirectory = Path.GetFullPath(settings.Prometheus.RulesDirectory ?? Path.Combine(eng, "prometheus", "rules"));

        if (mode == InfrastructureMode.Containers)
        {
            var prometheus = builder.AddPrometheusContainer(settings, rulesDirectory, services);
            var grafana = builder.AddGrafanaContainer(settings, Path.Combine(eng, "grafana"), prometheus);
            return new(As(prometheus), As(grafana), []);
        }

        const string noGrafana = "grafana: not started: it runs as a container only (Debian has no Grafana package) and no container runtime answers; " +
            "import eng/grafana/dashboards/" + GrafanaResources.DashboardFile + " into a Grafana of your own (docs/prometheus.md#grafana)";
        try
        {
            var prometheus = builder.AddPrometheusExecutable(settings, settings.ResolveDataDirectory(builder.AppHostDirectory), rulesDirectory, services);
            return new(As(prometheus), null, [noGrafana]);
        }
        catch (MissingBinaryException missing)
        {
            // Monitoring is not what the services need to run: say why it is missing and go on without it.
            return new(null, null, [$"prometheus: not started: {missing.Message}", noGrafana]);
        }
    }

    private static IResourceBuilder<IResourceWithEndpoints> As<T>(IResourceBuilder<T> builder) where T : IResourceWithEndpoints =>
        builder.ApplicationBuilder.CreateResourceBuilder<IResourceWithEndpoints>(builder.Resource);
}
