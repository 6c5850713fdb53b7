using System.Diagnostics;
using AspirePerf.AppHost.Monitoring;
using AspirePerf.TestSupport;
using AspirePerf.TestSupport.Servers;
using Xunit.Abstractions;

namespace AspirePerf.AppHost.Tests;

/// <summary>What the AppHost gives Prometheus: a configuration promtool accepts with the repository's rules, and
/// targets files written from the addresses Aspire resolves for it.</summary>
public sealed class PrometheusConfigurationTests(ITestOutputHelper output) : IDisposable
{
    private static readonly string[] Jobs = ["apiservice", "worker", "dashboard"];
    private readonly string _directory = TestDirectories.CreateTraversable("aspireperf-prometheus-config");

    [Fact]
    public async Task The_start_script_writes_one_targets_file_per_service_from_its_aspire_address_then_runs_its_arguments()
    {
        var targets = Path.Combine(_directory, "targets");
        var (exitCode, text) = await RunStartScriptAsync(targets, new()
        {
            ["services__apiservice__http__0"] = "http://localhost:5380",
            // A container sees the host under another name, with a trailing slash on some runtimes.
            ["services__worker__http__0"] = "http://aspire.dev.internal:40123/",
            ["services__dashboard__http__0"] = "http://localhost:5381",
        });

        Assert.True(exitCode == 0, text);
        Assert.Equal("--config.file=x --web.enable-lifecycle", text.Trim());
        Assert.Equal("""[{"targets":["localhost:5380"]}]""", (await File.ReadAllTextAsync(Path.Combine(targets, "apiservice.json"))).Trim());
        Assert.Equal("""[{"targets":["aspire.dev.internal:40123"]}]""", (await File.ReadAllTextAsync(Path.Combine(targets, "worker.json"))).Trim());
        Assert.Equal("""[{"targets":["localhost:5381"]}]""", (await File.ReadAllTextAsync(Path.Combine(targets, "dashboard.json"))).Trim());
        Assert.Equal(3, Directory.GetFiles(targets).Length); // no temporary file left behind
    }

    [Fact]
    public async Task The_start_script_refuses_to_run_prometheus_without_a_services_address()
    {
        var (exitCode, text) = await RunStartScriptAsync(Path.Combine(_directory, "targets"), new()
        {
            ["services__apiservice__http__0"] = "http://localhost:5380",
            ["services__dashboard__http__0"] = "http://localhost:5381",
        });

        Assert.Equal(1, exitCode);
        Assert.Contains("no address for worker: services__worker__http__0 is not set", text, StringComparison.Ordinal);
        Assert.DoesNotContain("--config.file", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_configuration_with_the_repository_rules_and_written_targets_passes_promtool_check_config()
    {
        var targets = Path.Combine(_directory, "targets");
        var (exitCode, text) = await RunStartScriptAsync(targets, new()
        {
            ["services__apiservice__http__0"] = "http://localhost:5380",
            ["services__worker__http__0"] = "http://localhost:5382",
            ["services__dashboard__http__0"] = "http://localhost:5381",
        });
        Assert.True(exitCode == 0, text);
        var rules = Path.Combine(PrometheusRuleFiles.Directory, "rules", "*.yml");
        var config = Path.Combine(_directory, PrometheusConfiguration.ConfigFileName);
        await File.WriteAllTextAsync(config, PrometheusConfiguration.Render(rules, targets, Jobs, 15, 15));

        var (checkExit, checkText) = await Promtool.CheckConfigAsync(config);

        output.WriteLine(await File.ReadAllTextAsync(config));
        output.WriteLine(checkText);
        Assert.True(checkExit == 0, checkText);
        Assert.Contains($"SUCCESS: {PrometheusRuleFiles.Rules.Count} rule files found", checkText, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2, "2s")]
    [InlineData(15, "10s")]
    public void The_scrape_timeout_never_exceeds_the_interval(int interval, string timeout)
    {
        var config = PrometheusConfiguration.Render("/rules/*.yml", "/targets", Jobs, interval, 15);

        Assert.Contains($"  scrape_timeout: {timeout}\n", config.ReplaceLineEndings("\n"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("api service")]
    [InlineData("$(reboot)")]
    public void A_job_name_that_is_not_a_plain_word_is_refused(string job)
    {
        Assert.Throws<ArgumentException>(() => PrometheusConfiguration.Render("/rules/*.yml", "/targets", [job], 15, 15));
    }

    [Fact]
    public void Paths_with_quotes_are_quoted_for_yaml()
    {
        var config = PrometheusConfiguration.Render("/home/o'neil/rules/*.yml", "/targets", Jobs, 15, 15);

        Assert.Contains("  - '/home/o''neil/rules/*.yml'", config, StringComparison.Ordinal);
    }

    // /bin/echo stands in for prometheus: the script execs its arguments once the targets are written.
    private static async Task<(int ExitCode, string Output)> RunStartScriptAsync(string targetsDirectory, Dictionary<string, string> addresses)
    {
        var info = new ProcessStartInfo("/bin/sh", ["-c", PrometheusConfiguration.WriteTargetsThenRun, "/bin/echo", "--config.file=x", "--web.enable-lifecycle"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("services__", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(name);
        }
        info.Environment[PrometheusConfiguration.JobsVariable] = string.Join(' ', Jobs);
        info.Environment[PrometheusConfiguration.TargetsDirectoryVariable] = targetsDirectory;
        foreach (var (name, value) in addresses)
        {
            info.Environment[name] = value;
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }

    public void Dispose() => TestDirectories.TryDelete(_directory);
}
