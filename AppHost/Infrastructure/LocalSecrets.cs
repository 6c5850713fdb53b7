using System.Security.Cryptography;
using System.Text.Json;

namespace AspirePerf.AppHost.Infrastructure;

/// <summary>
/// Passwords of the local servers, kept in the data folder next to the cluster they protect: the cluster keeps the
/// password it was initialised with, so the two must live and die together (user secrets would outlive a deleted
/// cluster, or vanish while it stays).
/// </summary>
public sealed record LocalSecrets(string PostgresPassword, string RedisPassword)
{
    public static LocalSecrets LoadOrCreate(string path)
    {
        if (File.Exists(path) && JsonSerializer.Deserialize<LocalSecrets>(File.ReadAllText(path)) is { } existing)
        {
            return existing;
        }
        var secrets = new LocalSecrets(NewPassword(), NewPassword());
        File.WriteAllText(path, JsonSerializer.Serialize(secrets));
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        return secrets;
    }

    // Letters and digits only: the value goes into connection strings and command lines unescaped.
    private static string NewPassword() => RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 24);
}
