namespace AspirePerf.AppHost.Infrastructure;

/// <summary>
/// The three infrastructure resources the services reference, whichever way they are provided: same names, same
/// connection string shapes, health checks that prove the servers accept connections.
/// </summary>
public sealed record InfrastructureResources(
    IResourceBuilder<IResourceWithConnectionString> Postgres,
    IResourceBuilder<IResourceWithConnectionString> Workforce,
    IResourceBuilder<IResourceWithConnectionString> Cache)
{
    public const string PostgresName = "postgres";
    public const string WorkforceName = "workforce";
    public const string CacheName = "cache";

    /// <summary>
    /// Server settings used in both ways: pg_stat_statements (the profiling layer) and pg_qualstats (the index
    /// advisor) preloaded, then <c>AppHost:Postgres:Settings</c>, which win.
    /// </summary>
    public static IReadOnlyDictionary<string, string> PostgresServerSettings(IReadOnlyList<string> preload, IReadOnlyDictionary<string, string> overrides)
    {
        ArgumentNullException.ThrowIfNull(preload);
        ArgumentNullException.ThrowIfNull(overrides);
        var settings = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["shared_preload_libraries"] = string.Join(',', preload),
            ["pg_stat_statements.track"] = "all",
        };
        if (preload.Contains("pg_qualstats"))
        {
            // pg_qualstats samples 1 / max_connections of statements by default; a tenth gives the advisor data sooner.
            settings["pg_qualstats.sample_rate"] = "0.1";
        }
        foreach (var (name, value) in overrides)
        {
            settings[name] = value;
        }
        return settings;
    }

    public static IEnumerable<string> AsServerArguments(IReadOnlyDictionary<string, string> settings) =>
        settings.SelectMany(s => new[] { "-c", $"{s.Key}={s.Value}" });

    /// <summary>redis-server's arguments besides port and password: loopback only, and a cache: no snapshots, no append-only file.</summary>
    public static IReadOnlyList<string> RedisServerArguments(string workingDirectory) =>
        ["--bind", "127.0.0.1", "-::1", "--save", "", "--appendonly", "no", "--dir", workingDirectory, "--loglevel", "warning"];
}
