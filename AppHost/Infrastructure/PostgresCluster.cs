using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace AspirePerf.AppHost.Infrastructure;

/// <summary>Initialises a PostgreSQL cluster folder on first use (initdb as the server account, password from a file).</summary>
public static partial class PostgresCluster
{
    public static async Task EnsureInitializedAsync(string binDirectory, string clusterDirectory, string password, ILogger logger, CancellationToken cancellationToken)
    {
        if (File.Exists(Path.Combine(clusterDirectory, "PG_VERSION")))
        {
            LogExisting(logger, clusterDirectory);
            return;
        }

        LogInitialising(logger, clusterDirectory);
        var started = Stopwatch.StartNew();
        Directory.CreateDirectory(clusterDirectory);
        var parent = Path.GetDirectoryName(Path.GetFullPath(clusterDirectory))!;
        var passwordFile = Path.Combine(parent, $".pwfile-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(passwordFile, password, cancellationToken).ConfigureAwait(false);
        try
        {
            if (UnixAccount.IsRoot && !OperatingSystem.IsWindows())
            {
                // Readable by the server account for initdb's few milliseconds; deleted right after.
                File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
            }
            await UnixAccount.GiveToServerAccountAsync(clusterDirectory, cancellationToken).ConfigureAwait(false);
            var (file, args) = UnixAccount.AsServerAccount(Path.Combine(binDirectory, "initdb"),
            [
                "-D", clusterDirectory, "-U", PostgresExecutableResource.UserName, "--auth=scram-sha-256", $"--pwfile={passwordFile}",
                "--encoding=UTF8", "--locale=C", "--no-sync",
            ]);
            var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var initdb = Process.Start(start) ?? throw new InvalidOperationException("initdb did not start.");
            var output = initdb.StandardOutput.ReadToEndAsync(cancellationToken);
            var errors = initdb.StandardError.ReadToEndAsync(cancellationToken);
            await initdb.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            if (initdb.ExitCode != 0)
            {
                throw new InvalidOperationException($"initdb failed with exit code {initdb.ExitCode}: {await errors.ConfigureAwait(false)}{await output.ConfigureAwait(false)}");
            }
            LogInitialised(logger, started.Elapsed.TotalSeconds);
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    /// <summary>
    /// Waits while the server named in the cluster's <c>postmaster.pid</c> is still running (it may be finishing a
    /// shutdown begun by the previous run), so the new server does not fail on the cluster's lock.
    /// </summary>
    public static async Task WaitForPreviousServerAsync(string clusterDirectory, TimeSpan timeout, ILogger logger, CancellationToken cancellationToken)
    {
        var lockFile = Path.Combine(clusterDirectory, "postmaster.pid");
        var pid = File.Exists(lockFile) && int.TryParse(File.ReadLines(lockFile).FirstOrDefault(), out var p) ? p : 0;
        if (pid <= 0 || !IsPostgres(pid))
        {
            return;
        }
        LogWaitingForPrevious(logger, pid);
        var deadline = Stopwatch.StartNew();
        while (IsPostgres(pid) && deadline.Elapsed < timeout)
        {
            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }
    }

    private static bool IsPostgres(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim() == "postgres";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Waiting for the previous server (pid {Pid}) to finish stopping")]
    private static partial void LogWaitingForPrevious(ILogger logger, int pid);

    [LoggerMessage(Level = LogLevel.Information, Message = "Using the existing cluster in {Directory}")]
    private static partial void LogExisting(ILogger logger, string directory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Initialising a new cluster in {Directory}")]
    private static partial void LogInitialising(ILogger logger, string directory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Cluster initialised in {Seconds:0.0} s")]
    private static partial void LogInitialised(ILogger logger, double seconds);
}
