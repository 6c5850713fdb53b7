using System.Diagnostics;
using System.Text.Json;
using AspirePerf.AppHost.Infrastructure;
using AspirePerf.TestSupport;
using AspirePerf.TestSupport.Servers;
using Xunit.Abstractions;

namespace AspirePerf.AppHost.Tests;

/// <summary>The AppHost as a user runs it: how it picks its infrastructure, how it stops, what it publishes.</summary>
public sealed class AppHostProcessTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("SIGTERM to the AppHost", ManagedProcess.SigTerm, false)]
    [InlineData("Ctrl+C (SIGINT to the foreground process group)", ManagedProcess.SigInt, true)]
    public async Task Stopping_the_apphost_leaves_no_process_behind(string how, int signal, bool processGroup)
    {
        var dataDirectory = AppHostProcess.NewDataDirectory();
        var log = new LineCapture();
        var started = Stopwatch.StartNew();
        var appHost = AppHostProcess.Start(AppHostProcess.RunArguments(dataDirectory), log, FreePort.Next(), processGroup);
        try
        {
            // auto, and no container runtime answers here: executables, decided within the probe's few seconds.
            await Eventually.ReturnsAsync(() => Task.FromResult(log.Contains("[apphost] infrastructure:") || appHost.HasExited), done => done,
                TimeSpan.FromSeconds(30), "the AppHost announcing its infrastructure");
            output.WriteLine($"infrastructure chosen after {started.Elapsed.TotalSeconds:0.0} s");
            if (!ContainerRuntimeProbe.Probe("docker", TimeSpan.FromSeconds(5)).Answers)
            {
                Assert.Contains("[apphost] infrastructure: executables (auto:", log.Text, StringComparison.Ordinal);
            }

            await Eventually.ReturnsAsync(() => Task.FromResult(log.Contains("AspirePerf is running") || appHost.HasExited), done => done,
                TimeSpan.FromMinutes(4), "the AppHost reporting every resource healthy");
            Assert.False(appHost.HasExited, $"the AppHost exited early with code {appHost.ExitCode}");
            output.WriteLine($"all healthy after {started.Elapsed.TotalSeconds:0.0} s");

            var descendants = ProcessTree.AppHostProcesses(appHost.Id);
            Assert.Contains(descendants, p => p.Name == "postgres");
            Assert.Contains(descendants, p => p.Name.StartsWith("redis-server", StringComparison.Ordinal));
            Assert.Contains(descendants, p => p.Name == "prometheus");
            Assert.Contains(descendants, p => p.Name == "dcp");
            Assert.True(descendants.Count(p => p.Name.StartsWith("AspirePerf.", StringComparison.Ordinal) || p.Name == "dotnet") >= 3,
                "expected worker, apiservice and dashboard among the AppHost's descendants: " + string.Join(", ", descendants.Select(p => p.Name)));

            Assert.True(ManagedProcess.Signal(processGroup ? -appHost.Id : appHost.Id, signal), $"could not send {how}");
            using (var exit = new CancellationTokenSource(TimeSpan.FromSeconds(90)))
            {
                await appHost.WaitForExitAsync(exit.Token);
            }

            output.WriteLine($"{descendants.Count} processes before the signal: {string.Join(", ", descendants.Select(p => p.Name))}");
            var survivors = await Eventually.ReturnsAsync(() => Task.FromResult(descendants.Where(ProcessTree.IsAlive).ToList()), alive => alive.Count == 0,
                TimeSpan.FromSeconds(30), $"every process ending after {how}");
            Assert.Empty(survivors);
        }
        finally
        {
            await appHost.StopAsync(ManagedProcess.SigKill, TimeSpan.FromSeconds(5));
            output.WriteLine(log.Text);
            TestDirectories.TryDelete(dataDirectory);
        }
    }

    [Fact]
    public async Task Forced_containers_without_a_container_runtime_fails_within_seconds_with_one_line()
    {
        if (ContainerRuntimeProbe.Probe("docker", TimeSpan.FromSeconds(5)).Answers)
        {
            output.WriteLine("A container runtime answers on this machine; nothing to check.");
            return;
        }
        var log = new LineCapture();
        var started = Stopwatch.StartNew();
        await using var appHost = AppHostProcess.Start(["--AppHost:Infrastructure=containers"], log, FreePort.Next());
        using (var exit = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            await appHost.WaitForExitAsync(exit.Token);
        }
        output.WriteLine($"exited after {started.Elapsed.TotalSeconds:0.0} s: {log.Text}");

        Assert.Equal(2, appHost.ExitCode);
        var error = Assert.Single(log.Lines, l => l.Contains("AppHost:Infrastructure=containers", StringComparison.Ordinal));
        Assert.Contains("--AppHost:Infrastructure=executables", error, StringComparison.Ordinal);
        Assert.DoesNotContain(log.Lines, l => l.Contains("Distributed application starting", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("containers", "container.v")]
    [InlineData("executables", "executable.v0")]
    public async Task The_manifest_lists_every_resource_in_both_ways(string infrastructure, string serverType)
    {
        var dataDirectory = AppHostProcess.NewDataDirectory();
        var manifestDirectory = Path.Combine(dataDirectory, "manifest");
        var log = new LineCapture();
        try
        {
            await using var appHost = AppHostProcess.Start(
                ["--publisher", "manifest", "--output-path", manifestDirectory, $"--AppHost:Infrastructure={infrastructure}", $"--AppHost:DataDirectory={dataDirectory}"],
                log, FreePort.Next());
            using (var exit = new CancellationTokenSource(TimeSpan.FromSeconds(120)))
            {
                await appHost.WaitForExitAsync(exit.Token);
            }
            Assert.True(appHost.ExitCode == 0, log.Text);

            using var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(manifestDirectory, "aspire-manifest.json")));
            var resources = manifest.RootElement.GetProperty("resources");
            string Type(string name) => resources.GetProperty(name).GetProperty("type").GetString()!;

            Assert.StartsWith(serverType, Type("postgres"), StringComparison.Ordinal);
            Assert.StartsWith(serverType, Type("cache"), StringComparison.Ordinal);
            Assert.True(resources.TryGetProperty("workforce", out _));
            // Prometheus follows the infrastructure's way; Grafana exists only as a container.
            Assert.StartsWith(serverType, Type("prometheus"), StringComparison.Ordinal);
            Assert.Equal(infrastructure == "containers", resources.TryGetProperty("grafana", out _));
            foreach (var project in new[] { "worker", "apiservice", "dashboard" })
            {
                Assert.StartsWith("project.v", Type(project), StringComparison.Ordinal);
            }
            var apiEnvironment = resources.GetProperty("apiservice").GetProperty("env");
            Assert.Equal("{workforce.connectionString}", apiEnvironment.GetProperty("ConnectionStrings__workforce").GetString());
            Assert.Equal("{cache.connectionString}", apiEnvironment.GetProperty("ConnectionStrings__cache").GetString());
            output.WriteLine(resources.ToString());
        }
        finally
        {
            output.WriteLine(log.Text);
            TestDirectories.TryDelete(dataDirectory);
        }
    }
}
