namespace AspirePerf.AppHost.Infrastructure;

/// <summary>Finds the locally installed server binaries where Debian puts them, or says which package provides a missing one.</summary>
public static class ServerBinaries
{
    public const string PostgresPackage = "postgresql-15";
    public const string RedisPackage = "redis-server";
    public const string PrometheusPackage = "prometheus";

    private static readonly string[] OptionalPreloads = ["pg_stat_statements", "pg_qualstats"];

    /// <summary>The folder holding <c>postgres</c> and <c>initdb</c>: the configured one, else the newest /usr/lib/postgresql/N/bin, else PATH.</summary>
    public static string PostgresBinDirectory(string? configured)
    {
        var postgres = Find("postgres", configured, PostgresDirectories()) ?? throw Missing("postgres", PostgresPackage, "AppHost:Postgres:BinDirectory");
        var directory = Path.GetDirectoryName(postgres)!;
        if (!File.Exists(Path.Combine(directory, "initdb")))
        {
            throw Missing("initdb", PostgresPackage, "AppHost:Postgres:BinDirectory");
        }
        return directory;
    }

    public static string RedisServer(string? configured) =>
        Find("redis-server", configured, ["/usr/bin", "/usr/local/bin"]) ?? throw Missing("redis-server", RedisPackage, "AppHost:RedisBinDirectory");

    public static string Prometheus(string? configured) =>
        Find("prometheus", configured, ["/usr/bin", "/usr/local/bin"]) ?? throw Missing("prometheus", PrometheusPackage, "AppHost:Prometheus:BinDirectory");

    /// <summary>Preloaded server libraries that are installed; pg_stat_statements is required (the profiling layer reads it).</summary>
    public static IReadOnlyList<string> PreloadLibraries(string postgresBinDirectory)
    {
        var libDirectory = Path.GetFullPath(Path.Combine(postgresBinDirectory, "..", "lib"));
        if (!File.Exists(Path.Combine(libDirectory, "pg_stat_statements.so")))
        {
            throw Missing("pg_stat_statements", PostgresPackage, "AppHost:Postgres:BinDirectory");
        }
        // pg_qualstats feeds the index advisor when its package is installed; without it advice is still given.
        return [.. OptionalPreloads.Where(lib => File.Exists(Path.Combine(libDirectory, lib + ".so")))];
    }

    private static string? Find(string name, string? explicitDirectory, IEnumerable<string> wellKnownDirectories)
    {
        if (!string.IsNullOrWhiteSpace(explicitDirectory))
        {
            var candidate = Path.Combine(explicitDirectory, name);
            return File.Exists(candidate) ? candidate : null;
        }
        var path = Environment.GetEnvironmentVariable("PATH")?.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries) ?? [];
        return wellKnownDirectories.Concat(path).Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);
    }

    private static IEnumerable<string> PostgresDirectories()
    {
        const string root = "/usr/lib/postgresql";
        return !Directory.Exists(root)
            ? []
            : Directory.GetDirectories(root)
                .OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var version) ? version : 0)
                .Select(d => Path.Combine(d, "bin"));
    }

    private static MissingBinaryException Missing(string binary, string package, string setting) =>
        new($"{binary} not found: install the Debian package {package} (apt-get install {package}; eng/install-prerequisites.sh does it) " +
            $"or set {setting}; or run with a container runtime and --AppHost:Infrastructure=containers.");
}

public sealed class MissingBinaryException(string message) : Exception(message);
