namespace AspirePerf.AppHost.Local.Launcher;

/// <summary>Finds server binaries where Debian installs them, or says which package provides a missing one.</summary>
public static class BinaryLocator
{
    /// <summary>
    /// Looks for <paramref name="name"/> in <paramref name="explicitDirectory"/> when one is configured (and only
    /// there), otherwise in <paramref name="wellKnownDirectories"/> and then on PATH.
    /// </summary>
    public static string? Find(string name, string? explicitDirectory, IEnumerable<string> wellKnownDirectories)
    {
        if (!string.IsNullOrWhiteSpace(explicitDirectory))
        {
            var candidate = Path.Combine(explicitDirectory, name);
            return File.Exists(candidate) ? candidate : null;
        }
        var path = Environment.GetEnvironmentVariable("PATH")?.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries) ?? [];
        return wellKnownDirectories.Concat(path)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
    }

    /// <summary>PostgreSQL server binary folders, newest major version first (Debian: /usr/lib/postgresql/N/bin).</summary>
    public static IEnumerable<string> PostgresDirectories()
    {
        const string root = "/usr/lib/postgresql";
        if (!Directory.Exists(root))
        {
            return [];
        }
        return Directory.GetDirectories(root)
            .Select(d => (Dir: d, Version: int.TryParse(Path.GetFileName(d), out var v) ? v : 0))
            .OrderByDescending(x => x.Version)
            .Select(x => Path.Combine(x.Dir, "bin"));
    }

    public static string MissingMessage(string binary, string package) =>
        $"{binary} not found: install the Debian package {package} (apt-get install {package}) or set its folder in configuration.";
}

public sealed class MissingBinaryException(string message) : Exception(message);
