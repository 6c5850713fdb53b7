using AspirePerf.AppHost.Infrastructure;

namespace AspirePerf.AppHost.Monitoring;

/// <summary>
/// Prometheus as an Aspire resource: Debian's <c>prometheus</c> as an executable where no container runtime answers,
/// the <c>prom/prometheus</c> image where one does. Both scrape the given services through the addresses Aspire gives
/// the resource (<see cref="PrometheusConfiguration"/>), load the repository's rules, answer <c>/-/ready</c> as their
/// health check, and start once the services are healthy, so a first start's seeding does not read as services down.
/// </summary>
public static class PrometheusResources
{
    public const string Image = "prom/prometheus";
    /// <summary>The 2.53 long-term-support line, the nearest to Debian's 2.42 in what the rules and promtool accept.</summary>
    public const string ImageTag = "v2.53.5";
    public const string EndpointName = "http";

    public static IResourceBuilder<ExecutableResource> AddPrometheusExecutable(this IDistributedApplicationBuilder builder, AppHostSettings settings,
        string dataDirectory, string rulesDirectory, IReadOnlyList<IResourceBuilder<ProjectResource>> services)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(services);
        var prometheus = ServerBinaries.Prometheus(settings.Prometheus.BinDirectory);
        var directory = Path.Combine(dataDirectory, "prometheus");
        var configFile = Path.Combine(directory, PrometheusConfiguration.ConfigFileName);
        var targetsDirectory = Path.Combine(directory, "targets");
        var storage = Path.Combine(directory, "data");
        Directory.CreateDirectory(directory);
        var jobs = services.Select(s => s.Resource.Name).ToList();

        var resource = builder.AddExecutable(PrometheusConfiguration.ResourceName, "/bin/sh", directory)
            .WithEndpoint(port: PortSettings.OrDynamic(settings.Ports.Prometheus), name: EndpointName, scheme: "http", isProxied: false);
        var endpoint = resource.GetEndpoint(EndpointName);
        resource.WithArgs(context =>
        {
            context.Args.Add("-c");
            context.Args.Add(PrometheusConfiguration.WriteTargetsThenRun);
            context.Args.Add(prometheus);
            context.Args.Add($"--config.file={configFile}");
            context.Args.Add($"--storage.tsdb.path={storage}");
            // Loopback only, on the port the orchestrator gives the endpoint.
            context.Args.Add(ReferenceExpression.Create($"--web.listen-address=localhost:{endpoint.Property(EndpointProperty.TargetPort)}"));
            context.Args.Add("--web.enable-lifecycle");
        });
        // Written as it starts, so a changed setting (intervals, rules folder) takes effect on the next start.
        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(resource.Resource, async (_, ct) =>
        {
            Directory.CreateDirectory(storage);
            await File.WriteAllTextAsync(configFile, PrometheusConfiguration.Render(Path.Combine(rulesDirectory, "*.yml"), targetsDirectory, jobs,
                settings.Prometheus.ScrapeIntervalSeconds, settings.Prometheus.EvaluationIntervalSeconds), ct).ConfigureAwait(false);
        });
        return resource.WithScrapeTargets(services, targetsDirectory).WithPrometheusDashboardEntries();
    }

    public static IResourceBuilder<ContainerResource> AddPrometheusContainer(this IDistributedApplicationBuilder builder, AppHostSettings settings,
        string rulesDirectory, IReadOnlyList<IResourceBuilder<ProjectResource>> services)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(services);
        const string configDirectory = "/etc/prometheus/aspire";
        // /etc/prometheus belongs to the image's user (nobody), so the targets can be written there.
        const string targetsDirectory = "/etc/prometheus/targets";
        var config = PrometheusConfiguration.Render("/etc/prometheus/rules/*.yml", targetsDirectory, [.. services.Select(s => s.Resource.Name)],
            settings.Prometheus.ScrapeIntervalSeconds, settings.Prometheus.EvaluationIntervalSeconds);

        var resource = builder.AddContainer(PrometheusConfiguration.ResourceName, Image, ImageTag)
            .WithEntrypoint("/bin/sh")
            .WithArgs("-c", PrometheusConfiguration.WriteTargetsThenRun, "/bin/prometheus",
                $"--config.file={configDirectory}/{PrometheusConfiguration.ConfigFileName}", "--storage.tsdb.path=/prometheus", "--web.enable-lifecycle")
            .WithContainerFiles(configDirectory, [new ContainerFile { Name = PrometheusConfiguration.ConfigFileName, Contents = config }])
            .WithBindMount(rulesDirectory, "/etc/prometheus/rules", isReadOnly: true)
            .WithHttpEndpoint(port: PortSettings.OrDynamic(settings.Ports.Prometheus), targetPort: 9090, name: EndpointName);
        if (builder.ExecutionContext.IsRunMode)
        {
            // Keep the history between runs, as PostgreSQL keeps its data.
            resource.WithVolume(VolumeNameGenerator.Generate(resource, "data"), "/prometheus");
        }
        return resource.WithScrapeTargets(services, targetsDirectory).WithPrometheusDashboardEntries();
    }

    // The services' addresses as Aspire resolves them for this resource, and the wait for their health.
    private static IResourceBuilder<T> WithScrapeTargets<T>(this IResourceBuilder<T> prometheus, IReadOnlyList<IResourceBuilder<ProjectResource>> services,
        string targetsDirectory) where T : IResourceWithEnvironment, IResourceWithWaitSupport
    {
        foreach (var service in services)
        {
            prometheus.WithReference(service).WaitFor(service);
        }
        return prometheus
            .WithEnvironment(PrometheusConfiguration.JobsVariable, string.Join(' ', services.Select(s => s.Resource.Name)))
            .WithEnvironment(PrometheusConfiguration.TargetsDirectoryVariable, targetsDirectory);
    }

    // Health, links to the pages an operator opens, and a command to reload the rules after editing them.
    private static IResourceBuilder<T> WithPrometheusDashboardEntries<T>(this IResourceBuilder<T> prometheus) where T : IResourceWithEndpoints
    {
        return prometheus
            .WithHttpHealthCheck("/-/ready", endpointName: EndpointName)
            .WithIconName("ChartMultiple")
            .WithUrls(context =>
            {
                var http = context.Urls.FirstOrDefault(u => u.Endpoint?.EndpointName == EndpointName);
                if (http is null)
                {
                    return;
                }
                http.DisplayText = "Prometheus";
                var root = http.Url.TrimEnd('/');
                foreach (var (path, text) in new[] { ("/alerts", "Alerts"), ("/rules", "Rules"), ("/targets", "Scrape targets") })
                {
                    context.Urls.Add(new ResourceUrlAnnotation { Url = root + path, DisplayText = text, Endpoint = http.Endpoint });
                }
            })
            .WithHttpCommand("/-/reload", "Reload rules", endpointName: EndpointName, commandName: "reload-rules", commandOptions: new HttpCommandOptions
            {
                Method = HttpMethod.Post,
                Description = "Makes Prometheus read its configuration and the rule files again (after editing eng/prometheus/rules).",
                IconName = "ArrowSync",
            });
    }
}
