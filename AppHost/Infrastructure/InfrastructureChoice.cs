using System.Diagnostics;

namespace AspirePerf.AppHost.Infrastructure;

/// <summary>
/// Decides how PostgreSQL and Redis are provided. Aspire's container resources wait forever when no container
/// runtime answers, so a run never asks for containers without first seeing a runtime answer within a few seconds.
/// </summary>
public sealed record InfrastructureChoice(InfrastructureMode Mode, string Reason, string? Error = null)
{
    /// <param name="runtimeAnswers">Whether a container runtime answers in time; only asked in run mode.</param>
    public static InfrastructureChoice Decide(InfrastructureMode requested, bool isPublishMode, Func<ContainerRuntimeProbeResult> runtimeAnswers)
    {
        ArgumentNullException.ThrowIfNull(runtimeAnswers);
        if (requested == InfrastructureMode.Executables)
        {
            return new(InfrastructureMode.Executables, "AppHost:Infrastructure=executables");
        }
        if (isPublishMode)
        {
            // A deployment target runs containers; the manifest describes them whatever this machine has.
            return new(InfrastructureMode.Containers, $"publishing with AppHost:Infrastructure={requested.ToString().ToLowerInvariant()}");
        }

        var probe = runtimeAnswers();
        if (requested == InfrastructureMode.Containers)
        {
            return probe.Answers
                ? new(InfrastructureMode.Containers, $"AppHost:Infrastructure=containers; {probe.Description}")
                : new(InfrastructureMode.Containers, "", Error:
                    $"AppHost:Infrastructure=containers, but {probe.Description}. Start a container runtime (docker or podman), " +
                    "or run with --AppHost:Infrastructure=executables (or auto) to use the locally installed postgres and redis-server.");
        }
        return probe.Answers
            ? new(InfrastructureMode.Containers, $"auto: {probe.Description}")
            : new(InfrastructureMode.Executables, $"auto: {probe.Description}, so the local postgres and redis-server binaries are used");
    }
}

public sealed record ContainerRuntimeProbeResult(bool Answers, string Description);

/// <summary>
/// Asks the container runtime Aspire would use (<c>ASPIRE_CONTAINER_RUNTIME</c>, default docker) to list containers,
/// the same question Aspire's own runtime check asks, and gives up after a timeout instead of hanging.
/// </summary>
public static class ContainerRuntimeProbe
{
    public static string RuntimeName(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        return environment("ASPIRE_CONTAINER_RUNTIME") ?? environment("DOTNET_ASPIRE_CONTAINER_RUNTIME") ?? "docker";
    }

    public static ContainerRuntimeProbeResult Probe(string runtime, TimeSpan timeout)
    {
        var started = Stopwatch.StartNew();
        Process process;
        try
        {
            var start = new ProcessStartInfo(runtime, ["container", "ls", "--quiet"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            process = Process.Start(start) ?? throw new InvalidOperationException($"{runtime} did not start");
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return new(false, $"no container runtime was found ('{runtime}' cannot be started: {ex.Message})");
        }

        using (process)
        {
            // Read both streams so a chatty runtime cannot block on a full pipe while we wait.
            var stderr = process.StandardError.ReadToEndAsync();
            _ = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                    // It exited between the timeout and the kill.
                }
                return new(false, $"the container runtime '{runtime}' did not answer within {timeout.TotalSeconds:0} s");
            }
            if (process.ExitCode != 0)
            {
                var reason = stderr.Wait(TimeSpan.FromSeconds(1)) ? FirstLine(stderr.Result) : "";
                return new(false, $"the container runtime '{runtime}' is not running ('{runtime} container ls' failed in {started.Elapsed.TotalSeconds:0.0} s: {reason})");
            }
            return new(true, $"the container runtime '{runtime}' answered in {started.Elapsed.TotalSeconds:0.0} s");
        }
    }

    private static string FirstLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "no error text";
}
