using System.Globalization;
using AspirePerf.Dashboard.Web.Extensions;
using AspirePerf.Dashboard.Web.Sla;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace AspirePerf.Dashboard.Web.Tests;

/// <summary>The SLA page's reader over folders written the way <c>Bench sla</c> writes them (docs/sla.md).</summary>
public sealed class SlaResultsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("aspireperf-sla-").FullName;
    private readonly string _results;
    private readonly string _baselines;

    public SlaResultsTests()
    {
        _results = Path.Combine(_root, "sla");
        _baselines = Path.Combine(_root, "baselines");
        Directory.CreateDirectory(_results);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Runs_are_read_newest_first_and_each_scenario_shows_its_newest_run()
    {
        // An old single run with both scenarios; a newer --runs 3 invocation with only "simple".
        Write("20260101-120000/result.json", Run("2026-01-01T12:00:00Z", 1, ("simple", 40), ("heavy", 300)));
        Write("20260101-120000/latency.png", "png");
        Write("20260102-080000/run-1/result.json", Run("2026-01-02T08:00:00Z", 1, ("simple", 30)));
        Write("20260102-080000/run-2/result.json", Run("2026-01-02T08:01:00Z", 2, ("simple", 31)));
        Write("20260102-080000/run-3/result.json", Run("2026-01-02T08:02:00Z", 3, ("simple", 32)));

        var snapshot = Reader().Read();

        Assert.Empty(snapshot.Problems);
        Assert.Equal(2, snapshot.InvocationsFound);
        Assert.Equal([3, 2, 1, 1], snapshot.Runs.Select(r => r.Run));
        Assert.Equal(["20260102-080000", "20260102-080000", "20260102-080000", "20260101-120000"], snapshot.Runs.Select(r => r.Invocation));
        Assert.Equal(Path.Combine("20260102-080000", "run-3"), snapshot.Runs[0].Folder);
        Assert.Equal("20260101-120000", snapshot.Runs[3].Folder);
        Assert.True(snapshot.Runs[3].HasChart);
        Assert.False(snapshot.Runs[0].HasChart);

        var latest = snapshot.LatestPerScenario();
        Assert.Equal(["heavy", "simple"], latest.Select(l => l.Scenario.Name));
        Assert.Equal(300, latest[0].Scenario.Latency!.P95);
        Assert.Equal("20260101-120000", latest[0].Run.Invocation);
        Assert.Equal(32, latest[1].Scenario.Latency!.P95);
        Assert.Equal(3, latest[1].Run.Run);

        var simple = latest[1].Scenario;
        Assert.Equal("open", simple.Model);
        Assert.Equal(40, simple.AskedRate);
        Assert.Equal(400, simple.Completed);
        Assert.Equal(0.0025, simple.ErrorRate);
        Assert.Equal(50, simple.Targets!["p95"]);
        Assert.False(simple.Sla!.Holds);
        Assert.Equal(["p99 120 ms > 100 ms"], simple.Sla.Breaches);
        Assert.Equal("employer-headcount-history", Assert.Single(simple.Endpoints!).Name);
        Assert.Equal(32, simple.Latency!["p95"]);
        Assert.Equal(32 * 3, simple.Latency["p99.9"]);
        Assert.True(double.IsNaN(simple.Latency["p42"]));
    }

    [Fact]
    public void Run_folders_are_taken_in_number_order_not_text_order()
    {
        for (var run = 1; run <= 12; run++)
        {
            Write($"20260102-080000/run-{run}/result.json", Run("2026-01-02T08:00:00Z", run, ("simple", run)));
        }

        var snapshot = Reader().Read();

        Assert.Equal(Enumerable.Range(1, 12).Reverse(), snapshot.Runs.Select(r => r.Run));
        Assert.Equal(12, snapshot.LatestPerScenario().Single().Run.Run);
    }

    [Fact]
    public void A_comparison_is_read_with_the_baseline_it_was_made_against()
    {
        Write("20260102-080000/run-1/result.json", Run("2026-01-02T08:00:00Z", 1, ("simple", 30)));
        Write("20260102-080000/comparison.json", """
            [
              { "scenario": "simple", "metric": "p95", "baselineMedian": 30.1, "currentMedian": 45.2, "ratio": 1.502, "pValue": 0.0079, "verdict": "regressed" },
              { "scenario": "simple", "metric": "errorRate", "baselineMedian": 0, "currentMedian": 0, "ratio": 1, "pValue": 1, "verdict": "no change" },
            ]
            """);
        Write("20260102-080000/summary.md", "# SLA suite\n\nAgainst baseline 'main' (5 runs each): 1 metric regressed.\n");
        Write("20260101-120000/result.json", Run("2026-01-01T12:00:00Z", 1, ("simple", 40)));

        var snapshot = Reader().Read();

        var comparison = Assert.Single(snapshot.Comparisons);
        Assert.Equal("20260102-080000", comparison.Invocation);
        Assert.Equal("main", comparison.BaselineName);
        Assert.Equal(["regressed", "no change"], comparison.Metrics.Select(m => m.Verdict));
        Assert.Equal(1.502, comparison.Metrics[0].Ratio);
        Assert.Same(comparison, snapshot.ComparisonFor(snapshot.Runs[0]));
        Assert.Null(snapshot.ComparisonFor(snapshot.Runs[1]));
    }

    [Fact]
    public void Missing_empty_corrupt_oversized_and_foreign_files_are_listed_with_their_reasons()
    {
        Write("20260105-000000/result.json", Run("2026-01-05T00:00:00Z", 1, ("simple", 30)));
        Directory.CreateDirectory(Path.Combine(_results, "20260104-000000")); // still running, nothing written
        Write("20260103-000000/result.json", "");
        Write("20260102-000000/result.json", """{"schemaVersion": 1, "startedAt": "2026-01-02T00:00:00Z", "scenarios": [ {"name": "simple", """);
        Write("20260101-000000/result.json", """{"schemaVersion": 2, "startedAt": "2026-01-01T00:00:00Z", "run": 1}""");
        Write("20251231-000000/run-1/result.json", "null");
        Write("20251230-000000/result.json", """{"schemaVersion": "one"}""");
        var oversized = Path.Combine(_results, "20251229-000000", "result.json");
        Directory.CreateDirectory(Path.GetDirectoryName(oversized)!);
        using (var file = File.Create(oversized))
        {
            file.SetLength(SlaResultsReader.MaxFileBytes + 1); // sparse: not really written
        }
        Write("20251228-000000/run-1/result.json", Run("2025-12-28T00:00:00Z", 1, ("simple", 30)));
        Write("20251228-000000/comparison.json", "{ this is not json");

        var snapshot = Reader().Read();

        Assert.Equal(["simple"], snapshot.Runs.SelectMany(r => r.Scenarios!).Select(s => s.Name).Distinct());
        Assert.Equal(2, snapshot.Runs.Count);
        Assert.Empty(snapshot.Comparisons);
        var problems = snapshot.Problems.ToDictionary(p => p.File, p => p.Reason);
        Assert.Equal(8, problems.Count);
        Assert.StartsWith("missing", problems[Path.Combine("20260104-000000", "result.json")], StringComparison.Ordinal);
        Assert.StartsWith("empty", problems[Path.Combine("20260103-000000", "result.json")], StringComparison.Ordinal);
        Assert.StartsWith("not valid JSON", problems[Path.Combine("20260102-000000", "result.json")], StringComparison.Ordinal);
        Assert.Equal("schema version 2; this console reads version 1", problems[Path.Combine("20260101-000000", "result.json")]);
        Assert.Equal("holds null", problems[Path.Combine("20251231-000000", "run-1", "result.json")]);
        Assert.StartsWith("not valid JSON", problems[Path.Combine("20251230-000000", "result.json")], StringComparison.Ordinal);
        Assert.Contains("over the 8,388,608-byte limit", problems[Path.Combine("20251229-000000", "result.json")], StringComparison.Ordinal);
        Assert.StartsWith("not valid JSON", problems[Path.Combine("20251228-000000", "comparison.json")], StringComparison.Ordinal);
    }

    [Fact]
    public void Only_the_newest_folders_are_read()
    {
        var start = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var total = SlaResultsReader.MaxInvocations + 5;
        // Created oldest last, so the order on disk says nothing: the folder names' time stamps decide.
        for (var i = total - 1; i >= 0; i--)
        {
            var at = start.AddHours(i);
            Write($"{at.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}/result.json",
                Run(at.ToString("O", CultureInfo.InvariantCulture), 1, ("simple", i)));
        }

        var snapshot = Reader().Read();

        Assert.Equal(total, snapshot.InvocationsFound);
        Assert.Equal(SlaResultsReader.MaxInvocations, snapshot.Runs.Count);
        Assert.Equal(Enumerable.Range(5, SlaResultsReader.MaxInvocations).Reverse().Select(i => (double)i),
            snapshot.Runs.Select(r => r.Scenarios!.Single().Latency!.P95));
        Assert.Empty(snapshot.Problems);
    }

    [Fact]
    public void A_file_rewritten_between_reads_is_read_again_and_a_deleted_one_is_forgotten()
    {
        var reader = Reader();
        Write("20260102-080000/result.json", "");
        Assert.StartsWith("empty", Assert.Single(reader.Read().Problems).Reason, StringComparison.Ordinal);

        // The runner finished writing it.
        Write("20260102-080000/result.json", Run("2026-01-02T08:00:00Z", 1, ("simple", 30)));
        var finished = reader.Read();
        Assert.Empty(finished.Problems);
        Assert.Equal(30, Assert.Single(finished.Runs).Scenarios!.Single().Latency!.P95);

        Directory.Delete(Path.Combine(_results, "20260102-080000"), recursive: true);
        var gone = reader.Read();
        Assert.Empty(gone.Runs);
        Assert.Empty(gone.Problems);
    }

    [Fact]
    public void Baselines_are_read_and_named_by_their_file_when_they_carry_no_name()
    {
        Directory.CreateDirectory(_baselines);
        File.WriteAllText(Path.Combine(_baselines, "ci.json"), $$"""
            { "name": "ci", "savedAt": "2026-11-30T13:25:16Z", "api": "http://localhost:5380/", "scenarioFileVersion": 1,
              "runs": [ {{Run("2026-11-30T13:20:54Z", 1, ("simple", 233))}} ] }
            """);
        File.WriteAllText(Path.Combine(_baselines, "main.json"), """{ "name": "", "savedAt": "2026-11-01T00:00:00Z", "runs": [] }""");
        File.WriteAllText(Path.Combine(_baselines, "broken.json"), "[");
        File.WriteAllText(Path.Combine(_baselines, "notes.txt"), "not a baseline");

        var snapshot = Reader().Read();

        Assert.Equal(["ci", "main"], snapshot.Baselines.Select(b => b.Name));
        Assert.Equal(233, snapshot.Baselines[0].Runs!.Single().Scenarios!.Single().Latency!.P95);
        var problem = Assert.Single(snapshot.Problems);
        Assert.Equal(Path.Combine(_baselines, "broken.json"), problem.File);
        Assert.StartsWith("not valid JSON", problem.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unconfigured_or_absent_results_directory_is_a_problem_not_an_exception()
    {
        var unconfigured = new SlaResultsReader(Options.Create(new ConsoleOptions()), NullLogger<SlaResultsReader>.Instance).Read();
        Assert.Equal("Console:SlaResultsDirectory", Assert.Single(unconfigured.Problems).File);
        Assert.Empty(unconfigured.Runs);

        var absent = Path.Combine(_root, "never-written");
        var missing = new SlaResultsReader(Options.Create(new ConsoleOptions { SlaResultsDirectory = absent }), NullLogger<SlaResultsReader>.Instance).Read();
        Assert.Equal(absent, Assert.Single(missing.Problems).File);
        Assert.Equal(0, missing.InvocationsFound);
    }

    [Fact]
    public void A_baseline_beside_the_results_directory_is_named_by_its_own_path()
    {
        // Same prefix, different folder: artifacts/sla and artifacts/sla-baselines.
        var beside = _results + "-baselines";
        Directory.CreateDirectory(beside);
        File.WriteAllText(Path.Combine(beside, "broken.json"), "[");
        var reader = new SlaResultsReader(Options.Create(new ConsoleOptions { SlaResultsDirectory = _results, SlaBaselinesDirectory = beside }),
            NullLogger<SlaResultsReader>.Instance);

        Assert.Equal(Path.Combine(beside, "broken.json"), Assert.Single(reader.Read().Problems).File);
    }

    private SlaResultsReader Reader() => new(
        Options.Create(new ConsoleOptions { SlaResultsDirectory = _results, SlaBaselinesDirectory = _baselines }),
        NullLogger<SlaResultsReader>.Instance);

    private void Write(string relative, string content)
    {
        var path = Path.GetFullPath(Path.Combine(_results, relative));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    // A result.json as the runner writes it (camelCase, schema version 1), one scenario per (name, p95).
    private static string Run(string startedAt, int run, params (string Name, double P95)[] scenarios) => $$"""
        {
          "schemaVersion": 1, "startedAt": "{{startedAt}}", "api": "http://localhost:5380/", "scenarioFileVersion": 1, "seed": 42, "run": {{run}},
          "scenarios": [ {{string.Join(",\n", scenarios.Select(s => Scenario(s.Name, s.P95)))}} ]
        }
        """;

    private static string Scenario(string name, double p95)
    {
        var p = p95.ToString(CultureInfo.InvariantCulture);
        var p999 = (p95 * 3).ToString(CultureInfo.InvariantCulture);
        var latency = $$"""{ "count": 400, "p50": 7.9, "p90": 20, "p95": {{p}}, "p99": 120, "p999": {{p999}}, "max": {{p999}}, "mean": 12.5 }""";
        return $$"""
            {
              "name": "{{name}}", "model": "open", "askedRate": 40, "users": 0, "durationSeconds": 10,
              "scheduled": 400, "sent": 400, "completed": 400, "dropped": 0, "lateStarts": 46,
              "achievedRate": 40, "throughput": 40, "errorRate": 0.0025, "outcomes": { "200": 399, "500": 1 },
              "latency": {{latency}}, "serviceTime": {{latency}},
              "endpoints": [ { "name": "employer-headcount-history", "latency": {{latency}}, "serviceTime": {{latency}}, "outcomes": { "200": 399, "500": 1 }, "errors": 1 } ],
              "targets": { "p95": 50, "p99": 100 }, "maxErrorRate": 0.01,
              "sla": { "holds": false, "breaches": [ "p99 120 ms > 100 ms" ] },
              "resources": { "processes": [ { "name": "apiservice", "processes": 1, "cpuPercentMean": 35.2, "cpuPercentMax": 80.1, "memoryMbMax": 210 } ],
                             "pool": { "usedMean": 2.5, "usedMax": 8, "sources": 1 } }
            }
            """;
    }
}
