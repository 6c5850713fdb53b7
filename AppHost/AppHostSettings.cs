using Microsoft.Extensions.Configuration;

namespace AspirePerf.AppHost;

/// <summary>How PostgreSQL and Redis are provided: see <see cref="Infrastructure.InfrastructureChoice"/>.</summary>
public enum InfrastructureMode
{
    Auto,
    Containers,
    Executables,
}

/// <summary>
/// The AppHost's own settings (section <c>AppHost</c>: appsettings.json, <c>AppHost__*</c> environment variables or
/// <c>--AppHost:Key=value</c> arguments). A port of 0 lets the orchestrator choose one.
/// </summary>
public sealed class AppHostSettings
{
    public const string SectionName = "AppHost";

    public InfrastructureMode Infrastructure { get; set; } = InfrastructureMode.Auto;

    /// <summary>Seconds to wait for a container runtime to answer before <c>auto</c> picks executables.</summary>
    public int ContainerRuntimeProbeSeconds { get; set; } = 5;

    /// <summary>Executables only: PostgreSQL cluster and Redis working folder. Default: the repository's git-ignored <c>.data/</c>.</summary>
    public string? DataDirectory { get; set; }

    public PortSettings Ports { get; set; } = new();

    /// <summary>
    /// The share of requests whose traces the services record and export (0 to 1). Unset: Aspire's development
    /// default, every trace (<c>always_on</c>), which is what a developer reading traces wants and what load tests
    /// should not run with: the dashboard ingesting every span then costs more CPU than the requests (docs/benchmarks.md).
    /// </summary>
    public double? TraceSampleRatio { get; set; }

    /// <summary>Employment spells the worker seeds (its <c>Seeding:Scale</c>); unset keeps the worker's default (1,000,000).</summary>
    public int? SeedingScale { get; set; }

    public PostgresSettings Postgres { get; set; } = new();

    /// <summary>Executables only: where <c>redis-server</c> is; default Debian's location, then PATH.</summary>
    public string? RedisBinDirectory { get; set; }

    public PrometheusSettings Prometheus { get; set; } = new();

    /// <summary>Where the performance console reads SLA runner results; default the runner's own <c>artifacts/sla</c>.</summary>
    public string? SlaResultsDirectory { get; set; }

    /// <summary>The executables' data folder: <see cref="DataDirectory"/>, else the repository's <c>.data/</c> beside the AppHost project.</summary>
    public string ResolveDataDirectory(string appHostDirectory) =>
        Path.GetFullPath(DataDirectory ?? Path.Combine(appHostDirectory, "..", ".data"));

    public static AppHostSettings Read(IConfiguration configuration)
    {
        var settings = configuration.GetSection(SectionName).Get<AppHostSettings>() ?? new AppHostSettings();
        settings.Validate();
        return settings;
    }

    private void Validate()
    {
        foreach (var (name, port) in Ports.All)
        {
            if (port is < 0 or > 65535)
            {
                throw new InvalidOperationException($"{SectionName}:Ports:{name} must be between 0 and 65535 (got {port}).");
            }
        }
        if (TraceSampleRatio is < 0 or > 1)
        {
            throw new InvalidOperationException($"{SectionName}:TraceSampleRatio must be between 0 and 1 (got {TraceSampleRatio}).");
        }
        if (SeedingScale is < 1)
        {
            throw new InvalidOperationException($"{SectionName}:SeedingScale must be positive (got {SeedingScale}).");
        }
        if (ContainerRuntimeProbeSeconds is < 1 or > 120)
        {
            throw new InvalidOperationException($"{SectionName}:ContainerRuntimeProbeSeconds must be between 1 and 120 (got {ContainerRuntimeProbeSeconds}).");
        }
        if (Prometheus.ScrapeIntervalSeconds is < 1 or > 300)
        {
            throw new InvalidOperationException($"{SectionName}:Prometheus:ScrapeIntervalSeconds must be between 1 and 300 (got {Prometheus.ScrapeIntervalSeconds}).");
        }
        if (Prometheus.EvaluationIntervalSeconds is < 1 or > 300)
        {
            throw new InvalidOperationException($"{SectionName}:Prometheus:EvaluationIntervalSeconds must be between 1 and 300 (got {Prometheus.EvaluationIntervalSeconds}).");
        }
    }
}

/// <summary>Loopback ports. The services keep the ports the README documents; 0 means "any free port".</summary>
public sealed class PortSettings
{
    public int Postgres { get; set; } = 55432;

    public int Cache { get; set; } = 56379;

    public int ApiService { get; set; } = 5380;

    public int Dashboard { get; set; } = 5381;

    public int Worker { get; set; } = 5382;

    /// <summary>Prometheus's web UI and API: its usual 9090 plus 50000, like PostgreSQL's and Redis's ports, so a
    /// Prometheus already running on this machine (Debian's package starts one on 9090) does not collide.</summary>
    public int Prometheus { get; set; } = 59090;

    /// <summary>Containers only: Grafana's usual 3000 plus 50000.</summary>
    public int Grafana { get; set; } = 53000;

    public IEnumerable<(string Name, int Port)> All =>
        [(nameof(Postgres), Postgres), (nameof(Cache), Cache), (nameof(ApiService), ApiService), (nameof(Dashboard), Dashboard), (nameof(Worker), Worker),
         (nameof(Prometheus), Prometheus), (nameof(Grafana), Grafana)];

    /// <summary>Aspire's notion of a port: null asks the orchestrator for one.</summary>
    public static int? OrDynamic(int port) => port == 0 ? null : port;
}

public sealed class PostgresSettings
{
    /// <summary>Executables only: where <c>postgres</c> and <c>initdb</c> are; default the newest /usr/lib/postgresql/N/bin, then PATH.</summary>
    public string? BinDirectory { get; set; }

    /// <summary>Extra <c>-c name=value</c> server settings, in both ways (tests turn fsync off, for instance).</summary>
    public Dictionary<string, string> Settings { get; set; } = [];
}

/// <summary>Prometheus (both ways) and Grafana (containers only): docs/prometheus.md.</summary>
public sealed class PrometheusSettings
{
    /// <summary>Whether the AppHost runs Prometheus (and, with containers, Grafana) at all.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Executables only: where <c>prometheus</c> is; default Debian's location, then PATH.</summary>
    public string? BinDirectory { get; set; }

    /// <summary>The recording and alerting rules Prometheus loads (every <c>*.yml</c> in it). Default: the repository's <c>eng/prometheus/rules</c>.</summary>
    public string? RulesDirectory { get; set; }

    public int ScrapeIntervalSeconds { get; set; } = 15;

    public int EvaluationIntervalSeconds { get; set; } = 15;
}
