using System.Globalization;
using System.Net;
using System.Text.Json;

namespace AspirePerf.Bench.Sla;

/// <summary>
/// <c>sla</c>: runs the scenario file against a running system, writes the four outputs per run, saves or compares a
/// baseline. Exit codes: 0 every SLA held and nothing regressed, <see cref="SlaBreach"/>, <see cref="Regression"/>
/// (a regression wins when both), 1 the run itself failed, 2 bad arguments.
/// </summary>
public static class SlaCommand
{
    public const int SlaBreach = 3;
    public const int Regression = 4;

    public static async Task<int> RunAsync(string[] args)
    {
        var api = new Uri(Options.Get(args, "--api") ?? "http://localhost:5380");
        var scenariosPath = Options.Get(args, "--scenarios") ?? RepositoryFile("Bench/sla-scenarios.json");
        var file = SlaScenarioFile.Load(scenariosPath);
        var only = Values(args, "--scenario");
        var unknown = only.Except(file.Scenarios.Select(s => s.Name)).ToList();
        if (unknown.Count > 0)
        {
            Console.Error.WriteLine($"Unknown scenario(s): {string.Join(", ", unknown)}; the file has {string.Join(", ", file.Scenarios.Select(s => s.Name))}.");
            return 2;
        }
        var scenarios = file.Scenarios.Where(s => only.Count == 0 || only.Contains(s.Name)).ToList();
        var duration = TimeSpan.FromSeconds(Double(args, "--duration", file.DurationSeconds));
        var warmup = TimeSpan.FromSeconds(Double(args, "--warmup", file.WarmupSeconds));
        var rateScale = Double(args, "--rate-scale", 1);
        var saveBaseline = Options.Get(args, "--save-baseline");
        var baselineName = Options.Get(args, "--baseline");
        var runs = Options.Int(args, "--runs", saveBaseline is not null || baselineName is not null ? BaselineComparison.MinimumRuns : 1);
        var minEffect = Double(args, "--min-effect", 0.05);
        var alpha = Double(args, "--alpha", 0.05);
        var baselines = Options.Get(args, "--baselines") ?? RepositoryFile("Bench/baselines", mustExist: false);
        var output = Options.Get(args, "--out") ?? Path.Combine(RepositoryFile("artifacts", mustExist: false), "sla", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        var metrics = (Options.Get(args, "--metrics") ?? $"{new Uri(api, "/metrics")},http://localhost:5382/metrics")
            .Split(',', StringSplitOptions.RemoveEmptyEntries).Select(u => new Uri(u)).ToList();
        if ((saveBaseline is not null || baselineName is not null) && runs < BaselineComparison.MinimumRuns)
        {
            Console.Error.WriteLine($"A baseline needs at least {BaselineComparison.MinimumRuns} runs per side (--runs).");
            return 2;
        }
        SlaBaseline? baseline = null;
        if (baselineName is not null)
        {
            var path = Path.Combine(baselines, baselineName + ".json");
            if (!File.Exists(path))
            {
                Console.Error.WriteLine($"No baseline '{baselineName}' ({path}). Save one with --save-baseline {baselineName}.");
                return 2;
            }
            baseline = JsonSerializer.Deserialize<SlaBaseline>(File.ReadAllText(path), SlaScenarioFile.Json)!;
            var measured = baseline.Runs[0].Scenarios.Where(s => Math.Abs(s.DurationSeconds - duration.TotalSeconds) > 0.001).Select(s => s.Name).ToList();
            if (measured.Count > 0)
            {
                Console.Error.WriteLine($"Baseline '{baselineName}' measured {string.Join(", ", measured)} for {baseline.Runs[0].Scenarios[0].DurationSeconds} s, this run for {duration.TotalSeconds} s: use the same --duration.");
                return 2;
            }
            if (baseline.ScenarioFileVersion != file.Version)
            {
                Console.Error.WriteLine($"Baseline '{baselineName}' was made with scenario file v{baseline.ScenarioFileVersion}, this is v{file.Version}: save a new one.");
                return 2;
            }
        }

        using var handler = new SocketsHttpHandler
        {
            AutomaticDecompression = DecompressionMethods.All,
            MaxConnectionsPerServer = Math.Max(64, scenarios.Max(s => s.Model == LoadModel.Open ? s.MaxInFlight : s.Users)),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        };
        using var http = new HttpClient(handler) { BaseAddress = api, Timeout = TimeSpan.FromSeconds(60) };
        if (Options.Get(args, "--api-key") is { } key)
        {
            http.DefaultRequestHeaders.Add("X-Api-Key", key);
        }
        Dictionary<string, IReadOnlyList<ParameterSchema>> schemas;
        try
        {
            schemas = await RequestPlan.LoadSchemasAsync(http, CancellationToken.None);
        }
        catch (HttpRequestException ex)
        {
            Console.Error.WriteLine($"The API at {api} does not answer ({ex.Message}). Start the system first: dotnet run --project AppHost -c Release");
            return 1;
        }

        Directory.CreateDirectory(output);
        var results = new List<SlaRunResult>();
        // Every run starts from a cold cache, so "fresh" parameters (the same ones each run: the seed is fixed) miss as
        // they did in the first run, and runs stay comparable with each other and with a baseline's.
        var coldStart = !args.Contains("--keep-cache");
        var operatorKey = Options.Get(args, "--operator-key") ?? "dev-operator-key-not-for-production";
        for (var run = 1; run <= runs; run++)
        {
            if (coldStart)
            {
                await InvalidateCacheAsync(http, operatorKey);
            }
            var directory = runs == 1 ? output : Path.Combine(output, $"run-{run}");
            Directory.CreateDirectory(directory);
            var startedAt = DateTimeOffset.UtcNow;
            var scenarioResults = new List<ScenarioResult>();
            var histograms = new List<(string, HdrHistogram.HistogramBase)>();
            foreach (var scenario in scenarios.Select(s => s with { Rate = s.Rate * rateScale }))
            {
                var plan = new RequestPlan(scenario, schemas, file.Seed);
                var runner = new LoadRunner(http);
                await using var sampler = new ResourceSampler(http, metrics, Options.Int(args, "--postgres-port", 55432), Options.Int(args, "--redis-port", 56379));
                var recording = await runner.RunAsync(scenario, plan, HashCode.Combine(file.Seed, RequestPlan.Stable(scenario.Name)), warmup, duration,
                    status => Live(run, runs, status), CancellationToken.None);
                var result = ScenarioResult.From(recording, await sampler.StopAsync());
                Console.Error.Write("\r" + new string(' ', 140) + "\r");
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"run {run}/{runs} {scenario.Name}: {result.AchievedRate:0.0}/s of {(result.AskedRate > 0 ? result.AskedRate.ToString("0.#", CultureInfo.InvariantCulture) : "closed")}, p95 {result.Latency.P95:0.0} ms, p99 {result.Latency.P99:0.0} ms, errors {result.ErrorRate:P2}, dropped {result.Dropped}: {(result.Sla.Holds ? "SLA holds" : "SLA breached: " + string.Join("; ", result.Sla.Breaches))}"));
                scenarioResults.Add(result);
                var total = recording.Total(e => e.Latency);
                histograms.Add((scenario.Name, total));
                SlaReport.WriteDistribution(Path.Combine(directory, $"{scenario.Name}.hgrm"), total);
            }
            var runResult = new SlaRunResult(SlaRunResult.CurrentSchema, startedAt, api.ToString(), file.Version, file.Seed, run, scenarioResults);
            results.Add(runResult);
            SlaReport.WriteJson(Path.Combine(directory, "result.json"), runResult);
            File.WriteAllText(Path.Combine(directory, "summary.md"), SlaReport.Markdown(runResult));
            SlaReport.WriteChart(Path.Combine(directory, "latency.png"), histograms, $"Latency by percentile, run {run} ({startedAt:yyyy-MM-dd HH:mm} UTC)");
        }

        var exit = results.All(r => r.SlaHolds) ? 0 : SlaBreach;
        var summary = string.Join(Environment.NewLine, results.Select(SlaReport.Markdown));
        if (baseline is not null)
        {
            var comparisons = BaselineComparison.Compare(baseline.Runs, results, minEffect, alpha);
            SlaReport.WriteJson(Path.Combine(output, "comparison.json"), comparisons);
            var comparison = BaselineComparison.Markdown(baseline.Name, comparisons, minEffect, alpha);
            summary += Environment.NewLine + comparison;
            Console.WriteLine(comparison);
            if (comparisons.Any(c => c.Verdict == BaselineComparison.Regressed))
            {
                exit = Regression;
            }
        }
        if (saveBaseline is not null)
        {
            Directory.CreateDirectory(baselines);
            var path = Path.Combine(baselines, saveBaseline + ".json");
            SlaReport.WriteJson(path, new SlaBaseline(saveBaseline, DateTimeOffset.UtcNow, api.ToString(), file.Version, results));
            Console.Error.WriteLine($"Baseline '{saveBaseline}' saved: {path}");
        }
        if (runs > 1)
        {
            File.WriteAllText(Path.Combine(output, "summary.md"), summary);
        }
        Console.WriteLine(SlaReport.Markdown(results[^1]));
        Console.Error.WriteLine($"Outputs: {output} (result.json, summary.md, <scenario>.hgrm, latency.png{(runs > 1 ? " per run-N" : "")}). Exit code {exit}.");
        return exit;
    }

    private static async Task InvalidateCacheAsync(HttpClient http, string operatorKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/perf/cache/invalidate")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { all = true }),
        };
        request.Headers.Add("X-Api-Key", operatorKey);
        using var response = await http.SendAsync(request);
        if (!response.IsSuccessStatusCode)
        {
            Console.Error.WriteLine($"Could not empty the cache before the run ({(int)response.StatusCode}): pass --operator-key, or --keep-cache to run warm on purpose.");
        }
    }

    private static void Live(int run, int runs, LiveStatus s)
    {
        var line = string.Create(CultureInfo.InvariantCulture,
            $"run {run}/{runs} {s.Scenario} {(s.WarmingUp ? "warm-up" : "measuring")} {s.Elapsed.TotalSeconds:0}/{s.Duration.TotalSeconds:0} s  sent {s.Sent}  done {s.Completed}  in flight {s.InFlight}  errors {s.Errors}  dropped {s.Dropped}  p95 {(s.P95Ms is { } p ? p.ToString("0.0", CultureInfo.InvariantCulture) + " ms" : "-")}");
        Console.Error.Write("\r" + line.PadRight(140));
    }

    private static List<string> Values(string[] args, string name) =>
        [.. args.Select((a, i) => (a, i)).Where(x => x.a == name && x.i + 1 < args.Length).Select(x => args[x.i + 1])];

    private static double Double(string[] args, string name, double fallback) =>
        Options.Get(args, name) is { } value ? double.Parse(value, CultureInfo.InvariantCulture) : fallback;

    /// <summary>A path in the repository, found from the working directory upwards (the command runs from anywhere inside it).</summary>
    private static string RepositoryFile(string relative, bool mustExist = true)
    {
        for (var directory = new DirectoryInfo(Environment.CurrentDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "AspirePerf.sln")))
            {
                var path = Path.Combine(directory.FullName, relative);
                return !mustExist || Path.Exists(path) ? path : throw new FileNotFoundException($"{path} does not exist.");
            }
        }
        throw new DirectoryNotFoundException("Run from inside the repository (no AspirePerf.sln above the working directory), or pass --scenarios and --out.");
    }
}
