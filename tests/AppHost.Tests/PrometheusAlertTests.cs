using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using AspirePerf.TestSupport;
using AspirePerf.TestSupport.Servers;
using Xunit.Abstractions;

namespace AspirePerf.AppHost.Tests;

/// <summary>
/// Prometheus on the real system, run by the real AppHost: it scrapes every service, loads every rule, answers every
/// query of the Grafana dashboard, and when Redis dies under traffic the circuit alert goes pending, then firing.
/// The rules are the repository's, with every <c>for:</c> shortened to 15 s (expressions untouched) and scrapes and
/// evaluations every 2 s, so the alert's life takes seconds instead of minutes.
/// </summary>
public sealed partial class PrometheusAlertTests(ITestOutputHelper output)
{
    private const string CircuitAlert = "RedisCircuitOpen";

    [Fact]
    public async Task Redis_stopped_under_traffic_turns_the_circuit_alert_pending_then_firing()
    {
        var dataDirectory = AppHostProcess.NewDataDirectory();
        var rules = CopyRulesWithShortFor(Path.Combine(dataDirectory, "rules"), "15s");
        var log = new LineCapture();
        var started = Stopwatch.StartNew();
        var appHost = AppHostProcess.Start(
            [.. AppHostProcess.RunArguments(dataDirectory), $"--AppHost:Prometheus:RulesDirectory={rules}",
             "--AppHost:Prometheus:ScrapeIntervalSeconds=2", "--AppHost:Prometheus:EvaluationIntervalSeconds=2"],
            log, FreePort.Next());
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(15) };
        using var traffic = new CancellationTokenSource();
        Task<int>? load = null;
        IReadOnlyList<ProcessTree.ProcessInfo> processes = [];
        try
        {
            await Eventually.ReturnsAsync(() => Task.FromResult(log.Contains("AspirePerf is running") || appHost.HasExited), done => done,
                TimeSpan.FromMinutes(4), "the AppHost reporting every resource healthy");
            Assert.False(appHost.HasExited, $"the AppHost exited early with code {appHost.ExitCode}");
            output.WriteLine($"all healthy after {started.Elapsed.TotalSeconds:0.0} s");
            processes = ProcessTree.AppHostProcesses(appHost.Id);
            var api = AppHostProcess.PrintedUrl(log, "API");
            var prometheus = AppHostProcess.PrintedUrl(log, "Prometheus");

            // Every service is scraped at the address the orchestrator gave it (all ports are dynamic here).
            await Eventually.ReturnsAsync(() => TargetsAsync(http, prometheus),
                targets => new[] { "apiservice", "worker", "dashboard" }.All(job => targets.GetValueOrDefault(job) == "up"),
                TimeSpan.FromSeconds(60), "Prometheus scraping apiservice, worker and dashboard");

            // Every alert of the repository is loaded and evaluates without error.
            var loaded = await RulesAsync(http, prometheus);
            var expected = PrometheusRuleFiles.AllRules.Select(r => r.Rule.Alert ?? r.Rule.Record!).ToList();
            Assert.All(expected, name => Assert.Equal("ok", loaded.GetValueOrDefault(name)));

            // Every query of the Grafana dashboard is valid PromQL for this Prometheus.
            foreach (var (panel, expression) in GrafanaDashboard.Queries())
            {
                using var response = await http.GetAsync(new Uri(prometheus, "/api/v1/query?query=" + Uri.EscapeDataString(expression)));
                Assert.True(response.IsSuccessStatusCode, $"panel '{panel}': {expression}: {await response.Content.ReadAsStringAsync()}");
            }

            Assert.Null(await AlertStateAsync(http, prometheus, CircuitAlert));

            load = DriveCacheMissesAsync(http, api, traffic.Token);
            var redis = Assert.Single(processes, p => p.Name.StartsWith("redis-server", StringComparison.Ordinal));
            // Traffic reaches Redis through the cache before it goes.
            await Eventually.ReturnsAsync(() => CacheMissesAsync(http, api), misses => misses >= 10, TimeSpan.FromSeconds(60), "ten cache misses");
            Assert.True(ManagedProcess.Signal(redis.Pid, ManagedProcess.SigKill), "could not kill redis-server");
            var stopped = Stopwatch.StartNew();
            output.WriteLine($"redis-server ({redis.Pid}) killed at {started.Elapsed.TotalSeconds:0.0} s");

            var seen = new List<string>();
            await Eventually.ReturnsAsync(async () =>
            {
                var state = await AlertStateAsync(http, prometheus, CircuitAlert);
                if (state is not null && (seen.Count == 0 || seen[^1] != state))
                {
                    seen.Add(state);
                    output.WriteLine($"{CircuitAlert} {state} {stopped.Elapsed.TotalSeconds:0.0} s after Redis stopped");
                }
                return state;
            }, state => state == "firing", TimeSpan.FromMinutes(3), $"{CircuitAlert} firing after Redis stopped");

            Assert.Equal(["pending", "firing"], seen);
            traffic.Cancel();
            output.WriteLine($"{await load} requests sent while Redis was stopped or about to be");
        }
        finally
        {
            await traffic.CancelAsync();
            if (load is not null)
            {
                await load.ContinueWith(_ => { }, TaskScheduler.Default);
            }
            await appHost.StopAsync(ManagedProcess.SigTerm, TimeSpan.FromSeconds(90));
            // The orchestrator stops its servers after the AppHost exits; wait for them, and kill what outlives that.
            try
            {
                await Eventually.TrueAsync(() => !processes.Any(ProcessTree.IsAlive), TimeSpan.FromSeconds(30), "every process of the AppHost ending");
            }
            finally
            {
                foreach (var survivor in processes.Where(ProcessTree.IsAlive))
                {
                    ManagedProcess.Signal(survivor.Pid, ManagedProcess.SigKill);
                }
                output.WriteLine(log.Text);
                TestDirectories.TryDelete(dataDirectory);
            }
        }
    }

    /// <summary>The repository's rule files with every <c>for:</c> set to <paramref name="holdFor"/>; nothing else changes.</summary>
    private static string CopyRulesWithShortFor(string directory, string holdFor)
    {
        Directory.CreateDirectory(directory);
        foreach (var file in PrometheusRuleFiles.Rules)
        {
            var text = File.ReadAllText(file);
            File.WriteAllText(Path.Combine(directory, Path.GetFileName(file)), ForClause().Replace(text, "${indent}" + holdFor));
        }
        return directory;
    }

    // Distinct keys, so each request misses memory (L1) and asks Redis (L2); bounded in count, and stopped by the test.
    private static async Task<int> DriveCacheMissesAsync(HttpClient http, Uri api, CancellationToken cancellationToken)
    {
        var sent = 0;
        try
        {
            for (var i = 1; i <= 2000 && !cancellationToken.IsCancellationRequested; i++)
            {
                // 500 employers at the test's seeding scale: profiles first, then their headcount histories.
                var path = i <= 500 ? $"/api/v1/queries/employer-profile?employerId={i}" : $"/api/v1/queries/employer-headcount-history?employerId={(i - 1) % 500 + 1}&from=2024-01-{(i - 1) / 500 + 1:00}";
                using var response = await http.GetAsync(new Uri(api, path), cancellationToken);
                sent++;
                await Task.Delay(50, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The test has what it needs.
        }
        return sent;
    }

    private static async Task<long> CacheMissesAsync(HttpClient http, Uri api)
    {
        using var statistics = JsonDocument.Parse(await http.GetStringAsync(new Uri(api, "/api/v1/perf/cache")));
        return statistics.RootElement.GetProperty("misses").GetInt64();
    }

    private static async Task<Dictionary<string, string>> TargetsAsync(HttpClient http, Uri prometheus)
    {
        using var answer = JsonDocument.Parse(await http.GetStringAsync(new Uri(prometheus, "/api/v1/targets")));
        return answer.RootElement.GetProperty("data").GetProperty("activeTargets").EnumerateArray()
            .ToDictionary(t => t.GetProperty("labels").GetProperty("job").GetString()!, t => t.GetProperty("health").GetString()!);
    }

    private static async Task<Dictionary<string, string>> RulesAsync(HttpClient http, Uri prometheus)
    {
        using var answer = JsonDocument.Parse(await http.GetStringAsync(new Uri(prometheus, "/api/v1/rules")));
        return answer.RootElement.GetProperty("data").GetProperty("groups").EnumerateArray()
            .SelectMany(g => g.GetProperty("rules").EnumerateArray())
            .ToDictionary(r => r.GetProperty("name").GetString()!, r => r.GetProperty("health").GetString()!);
    }

    private static async Task<string?> AlertStateAsync(HttpClient http, Uri prometheus, string alertName)
    {
        var answer = await http.GetFromJsonAsync<JsonElement>(new Uri(prometheus, "/api/v1/alerts"));
        return answer.GetProperty("data").GetProperty("alerts").EnumerateArray()
            .Where(a => a.GetProperty("labels").GetProperty("alertname").GetString() == alertName)
            .Select(a => a.GetProperty("state").GetString())
            .FirstOrDefault();
    }

    [GeneratedRegex(@"(?<indent>^[ \t]+for:[ \t]*)\S+", RegexOptions.Multiline)]
    private static partial Regex ForClause();
}
