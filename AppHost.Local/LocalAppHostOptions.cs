using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace AspirePerf.AppHost.Local;

/// <summary>
/// Settings of the local host, from appsettings.json, <c>APPHOST_</c>-prefixed environment variables and the command
/// line (<c>--Ports:apiservice=6000</c>). Defaults are the documented loopback ports.
/// </summary>
public sealed class LocalAppHostOptions
{
    public string? DataDirectory { get; set; }

    public PortOptions Ports { get; set; } = new();

    public string? PostgresBinDirectory { get; set; }

    public string? RedisBinDirectory { get; set; }

    /// <summary>ASPNETCORE_ENVIRONMENT of the projects (Aspire's launch profiles use Development).</summary>
    public string Environment { get; set; } = "Development";

    /// <summary>An OTLP collector to export to (e.g. a standalone Aspire dashboard); none by default.</summary>
    public Uri? OtlpEndpoint { get; set; }

    /// <summary>How long to wait for each project's /health (the worker migrates and seeds first).</summary>
    public int HealthTimeoutSeconds { get; set; } = 300;

    /// <summary>
    /// Extra environment variables per project, like Aspire's <c>WithEnvironment</c>:
    /// <c>--ExtraEnvironment:worker:Seeding__Scale=20000</c> seeds a small database.
    /// </summary>
    public Dictionary<string, Dictionary<string, string>> ExtraEnvironment { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Extra PostgreSQL settings passed as <c>-c name=value</c>.</summary>
    public Dictionary<string, string> PostgresSettings { get; set; } = [];

    public static LocalAppHostOptions Load(string[] args)
    {
        var configuration = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddEnvironmentVariables("APPHOST_")
            .AddCommandLine(args)
            .Build();
        var options = configuration.Get<LocalAppHostOptions>() ?? new LocalAppHostOptions();
        options.DataDirectory = Path.GetFullPath(options.DataDirectory ?? Path.Combine(RepositoryRoot, ".data"));
        return options;
    }

    /// <summary>The repository this host was built from (embedded at build time), so data lands in its git-ignored .data/.</summary>
    public static string RepositoryRoot =>
        typeof(LocalAppHostOptions).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "repository-root")?.Value ?? System.Environment.CurrentDirectory;
}

public sealed class PortOptions
{
    public int Postgres { get; set; } = 55432;
    public int Cache { get; set; } = 56379;
    public int ApiService { get; set; } = 5380;
    public int Dashboard { get; set; } = 5381;
    public int Worker { get; set; } = 5382;
}
