namespace AspirePerf.AppHost.Monitoring;

/// <summary>
/// Grafana, containers only (Debian ships no Grafana package, so executables have none): the image with the
/// repository's provisioning (eng/grafana): Prometheus as its data source and the AspirePerf dashboard as its home.
/// Anonymous visitors may view; the <c>grafana-admin-password</c> parameter signs in as admin. Dashboards edited in the
/// UI are not kept: change eng/grafana/dashboards/aspireperf.json instead.
/// </summary>
public static class GrafanaResources
{
    public const string ResourceName = "grafana";
    public const string Image = "grafana/grafana";
    public const string ImageTag = "11.6.0";
    public const string DashboardFile = "aspireperf.json";

    public static IResourceBuilder<ContainerResource> AddGrafanaContainer(this IDistributedApplicationBuilder builder, AppHostSettings settings,
        string grafanaDirectory, IResourceBuilder<ContainerResource> prometheus)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(prometheus);
        var adminPassword = builder.AddParameter("grafana-admin-password", new GenerateParameterDefault { MinLength = 24, Special = false }, secret: true, persist: true);
        return builder.AddContainer(ResourceName, Image, ImageTag)
            .WithBindMount(Path.Combine(grafanaDirectory, "provisioning"), "/etc/grafana/provisioning", isReadOnly: true)
            .WithBindMount(Path.Combine(grafanaDirectory, "dashboards"), "/var/lib/grafana/dashboards", isReadOnly: true)
            // Read by provisioning/datasources/prometheus.yml; resolved for the container network.
            .WithEnvironment("PROMETHEUS_URL", prometheus.GetEndpoint(PrometheusResources.EndpointName))
            .WithEnvironment("GF_SECURITY_ADMIN_PASSWORD", adminPassword)
            .WithEnvironment("GF_AUTH_ANONYMOUS_ENABLED", "true")
            .WithEnvironment("GF_AUTH_ANONYMOUS_ORG_ROLE", "Viewer")
            .WithEnvironment("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH", "/var/lib/grafana/dashboards/" + DashboardFile)
            .WithEnvironment("GF_ANALYTICS_REPORTING_ENABLED", "false")
            .WithEnvironment("GF_ANALYTICS_CHECK_FOR_UPDATES", "false")
            .WithHttpEndpoint(port: PortSettings.OrDynamic(settings.Ports.Grafana), targetPort: 3000, name: "http")
            .WithHttpHealthCheck("/api/health")
            .WithIconName("DataArea")
            .WithUrlForEndpoint("http", url => url.DisplayText = "Grafana (AspirePerf dashboard)")
            .WaitFor(prometheus);
    }
}
