using System.Diagnostics;
using System.Runtime.InteropServices;

namespace AspirePerf.AppHost.Infrastructure;

/// <summary>
/// PostgreSQL refuses to run as root, and CI and containers run as root: then the server runs as the unprivileged
/// <c>postgres</c> account (created by the Debian package) through util-linux's <c>setpriv</c>, which execs in place,
/// so the orchestrator's process is the server itself and its stop signal reaches it directly.
/// </summary>
public static partial class UnixAccount
{
    public const string PostgresAccount = "postgres";

    public static bool IsRoot => OperatingSystem.IsLinux() && GetEuid() == 0;

    /// <summary>The command line that runs <paramref name="binary"/> as the postgres account when we are root.</summary>
    public static (string FileName, IReadOnlyList<string> Arguments) AsServerAccount(string binary, IEnumerable<string> arguments) =>
        IsRoot
            ? ("setpriv", ["--reuid=" + PostgresAccount, "--regid=" + PostgresAccount, "--init-groups", "--", binary, .. arguments])
            : (binary, [.. arguments]);

    /// <summary>Hands <paramref name="directory"/> to the postgres account (no-op unless root).</summary>
    public static async Task GiveToServerAccountAsync(string directory, CancellationToken cancellationToken)
    {
        if (!IsRoot)
        {
            return;
        }
        using var chown = Process.Start("chown", ["-R", $"{PostgresAccount}:{PostgresAccount}", directory])
            ?? throw new InvalidOperationException("chown did not start.");
        await chown.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (chown.ExitCode != 0)
        {
            throw new InvalidOperationException($"chown -R {PostgresAccount} {directory} failed with exit code {chown.ExitCode}.");
        }
    }

    /// <summary>Creates <paramref name="path"/> so that the postgres account can traverse it when we run as root.</summary>
    public static void CreateTraversableDirectory(string path)
    {
        Directory.CreateDirectory(path);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.OtherExecute | UnixFileMode.GroupExecute);
        }
    }

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();
}
