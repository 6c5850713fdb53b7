using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using AspirePerf.Dashboard.Web.Extensions;
using Microsoft.Extensions.Options;

namespace AspirePerf.Dashboard.Web.Sla;

// The console's own read model of the SLA runner's files (schema: docs/sla.md). It does not reference the Bench project:
// the console knows the runner only through what it writes, like it knows the API only over HTTP.

public sealed record SlaLatency(long Count, double P50, double P90, double P95, double P99, double P999, double Max, double Mean)
{
    public double this[string name] => name switch
    {
        "p50" => P50,
        "p90" => P90,
        "p95" => P95,
        "p99" => P99,
        "p99.9" or "p999" => P999,
        "max" => Max,
        _ => double.NaN,
    };
}

public sealed record SlaEndpoint(string Name, SlaLatency? Latency, long Errors);

public sealed record SlaVerdict(bool Holds, IReadOnlyList<string>? Breaches);

public sealed record SlaScenario(
    string Name,
    string Model,
    double AskedRate,
    int Users,
    double DurationSeconds,
    long Sent,
    long Completed,
    long Dropped,
    long LateStarts,
    double AchievedRate,
    double Throughput,
    double ErrorRate,
    SlaLatency? Latency,
    IReadOnlyList<SlaEndpoint>? Endpoints,
    IReadOnlyDictionary<string, double>? Targets,
    double MaxErrorRate,
    SlaVerdict? Sla);

/// <summary>One <c>result.json</c>. <see cref="Folder"/> is its directory relative to the results directory.</summary>
public sealed record SlaRun(int SchemaVersion, DateTimeOffset StartedAt, string? Api, int Run, IReadOnlyList<SlaScenario>? Scenarios)
{
    public string Folder { get; init; } = "";

    /// <summary>The runner's invocation (the folder under the results directory) this run belongs to.</summary>
    public string Invocation { get; init; } = "";

    public bool HasChart { get; init; }
}

/// <summary>One metric of <c>comparison.json</c>: verdict improved, regressed or no change.</summary>
public sealed record SlaMetricComparison(string Scenario, string Metric, double BaselineMedian, double CurrentMedian, double Ratio, double PValue, string Verdict);

public sealed record SlaComparison(string Invocation, string? BaselineName, IReadOnlyList<SlaMetricComparison> Metrics);

public sealed record SlaBaseline(string Name, DateTimeOffset SavedAt, string? Api, IReadOnlyList<SlaRun>? Runs);

/// <summary>A file that could not be read, and why (the page lists these instead of failing).</summary>
public sealed record SlaFileProblem(string File, string Reason);

/// <summary>What the results and baselines directories hold now: runs newest first, bounded.</summary>
public sealed record SlaResultsSnapshot(
    string? ResultsDirectory,
    string? BaselinesDirectory,
    IReadOnlyList<SlaRun> Runs,
    IReadOnlyList<SlaComparison> Comparisons,
    IReadOnlyList<SlaBaseline> Baselines,
    IReadOnlyList<SlaFileProblem> Problems,
    int InvocationsFound)
{
    /// <summary>The newest run of each scenario, with the run it came from.</summary>
    public IReadOnlyList<(SlaScenario Scenario, SlaRun Run)> LatestPerScenario() =>
        [.. Runs.SelectMany(r => (r.Scenarios ?? []).Select(s => (Scenario: s, Run: r)))
            .GroupBy(x => x.Scenario.Name, StringComparer.Ordinal)
            .Select(g => g.First())
            .OrderBy(x => x.Scenario.Name, StringComparer.Ordinal)];

    public SlaComparison? ComparisonFor(SlaRun run) =>
        Comparisons.FirstOrDefault(c => string.Equals(c.Invocation, run.Invocation, StringComparison.Ordinal));
}

/// <summary>
/// Reads the SLA runner's outputs from <see cref="ConsoleOptions.SlaResultsDirectory"/> (one folder per invocation:
/// <c>result.json</c>, or <c>run-N/result.json</c> and <c>comparison.json</c>) and the baselines from
/// <see cref="ConsoleOptions.SlaBaselinesDirectory"/>. Bounded: the newest <see cref="MaxInvocations"/> folders, at most
/// <see cref="MaxRunsPerInvocation"/> runs each, files up to <see cref="MaxFileBytes"/>. A missing, partial (the runner
/// is still writing) or corrupt file becomes a <see cref="SlaFileProblem"/>, never an exception. Parsed files are kept
/// by path, size and write time, so a listing every few seconds re-reads only what changed.
/// </summary>
public sealed partial class SlaResultsReader(IOptions<ConsoleOptions> options, ILogger<SlaResultsReader> logger)
{
    public const int MaxInvocations = 20;
    public const int MaxRunsPerInvocation = 20;
    public const int MaxBaselines = 10;
    public const long MaxFileBytes = 8 * 1024 * 1024;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { AllowTrailingCommas = true };
    private readonly ConcurrentDictionary<string, (long Length, DateTime Written, object? Value, string? Error)> _parsed = new(StringComparer.Ordinal);

    public SlaResultsSnapshot Read()
    {
        var problems = new List<SlaFileProblem>();
        var runs = new List<SlaRun>();
        var comparisons = new List<SlaComparison>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var results = options.Value.SlaResultsDirectory;
        var found = 0;
        if (string.IsNullOrWhiteSpace(results))
        {
            problems.Add(new("Console:SlaResultsDirectory", "not configured: the AppHost sets it to artifacts/sla"));
        }
        else if (!Directory.Exists(results))
        {
            problems.Add(new(results, "does not exist yet: no SLA run has written results here"));
        }
        else
        {
            var invocations = new DirectoryInfo(results).EnumerateDirectories().ToList();
            found = invocations.Count;
            foreach (var invocation in invocations.OrderByDescending(Stamp).Take(MaxInvocations))
            {
                ReadInvocation(invocation, runs, comparisons, problems, seen);
            }
        }
        var baselines = ReadBaselines(problems, seen);
        // Forget files that are gone, so the cache holds only what the last listing saw.
        foreach (var path in _parsed.Keys.Where(k => !seen.Contains(k)))
        {
            _parsed.TryRemove(path, out _);
        }
        return new SlaResultsSnapshot(results, options.Value.SlaBaselinesDirectory,
            [.. runs.OrderByDescending(r => r.StartedAt).ThenByDescending(r => r.Run)], comparisons, baselines, problems, found);
    }

    private void ReadInvocation(DirectoryInfo invocation, List<SlaRun> runs, List<SlaComparison> comparisons, List<SlaFileProblem> problems,
        HashSet<string> seen)
    {
        var single = Path.Combine(invocation.FullName, "result.json");
        var folders = File.Exists(single)
            ? [invocation]
            : invocation.EnumerateDirectories("run-*").OrderBy(d => RunNumber(d.Name)).Take(MaxRunsPerInvocation).ToList();
        if (folders.Count == 0)
        {
            problems.Add(new(Relative(single), "missing: the run may still be in progress, or it failed before writing its result"));
            return;
        }
        foreach (var folder in folders)
        {
            var path = Path.Combine(folder.FullName, "result.json");
            if (Parse<SlaRun>(path, seen, problems) is { } run)
            {
                if (run.SchemaVersion != 1)
                {
                    problems.Add(new(Relative(path), $"schema version {run.SchemaVersion}; this console reads version 1"));
                    continue;
                }
                runs.Add(run with
                {
                    Folder = Relative(folder.FullName),
                    Invocation = invocation.Name,
                    HasChart = File.Exists(Path.Combine(folder.FullName, "latency.png")),
                });
            }
        }
        var comparison = Path.Combine(invocation.FullName, "comparison.json");
        if (File.Exists(comparison) && Parse<List<SlaMetricComparison>>(comparison, seen, problems) is { } metrics)
        {
            comparisons.Add(new SlaComparison(invocation.Name, BaselineName(Path.Combine(invocation.FullName, "summary.md")), metrics));
        }
    }

    private List<SlaBaseline> ReadBaselines(List<SlaFileProblem> problems, HashSet<string> seen)
    {
        var directory = options.Value.SlaBaselinesDirectory;
        if (string.IsNullOrWhiteSpace(directory) || !Directory.Exists(directory))
        {
            return [];
        }
        var baselines = new List<SlaBaseline>();
        foreach (var file in new DirectoryInfo(directory).EnumerateFiles("*.json").OrderBy(f => f.Name, StringComparer.Ordinal).Take(MaxBaselines))
        {
            if (Parse<SlaBaseline>(file.FullName, seen, problems) is { } baseline)
            {
                baselines.Add(baseline with { Name = string.IsNullOrWhiteSpace(baseline.Name) ? Path.GetFileNameWithoutExtension(file.Name) : baseline.Name });
            }
        }
        return baselines;
    }

    private T? Parse<T>(string path, HashSet<string> seen, List<SlaFileProblem> problems) where T : class
    {
        seen.Add(path);
        FileInfo file = new(path);
        if (!file.Exists)
        {
            problems.Add(new(Relative(path), "missing"));
            return null;
        }
        if (_parsed.TryGetValue(path, out var cached) && cached.Length == file.Length && cached.Written == file.LastWriteTimeUtc)
        {
            if (cached.Error is not null)
            {
                problems.Add(new(Relative(path), cached.Error));
            }
            return cached.Value as T;
        }
        T? value = null;
        string? error = null;
        if (file.Length > MaxFileBytes)
        {
            error = $"{file.Length:N0} bytes, over the {MaxFileBytes:N0}-byte limit: not read";
        }
        else if (file.Length == 0)
        {
            error = "empty (the runner may still be writing it)";
        }
        else
        {
            try
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                value = JsonSerializer.Deserialize<T>(stream, Json);
                error = value is null ? "holds null" : null;
            }
            catch (JsonException ex)
            {
                error = $"not valid JSON for this schema: {ex.Message}";
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                error = $"could not be read: {ex.Message}";
            }
        }
        if (error is not null)
        {
            if (logger.IsEnabled(LogLevel.Debug))
            {
                logger.LogDebug("SLA file {Path} skipped: {Reason}", path, error);
            }
            problems.Add(new(Relative(path), error));
        }
        _parsed[path] = (file.Length, file.LastWriteTimeUtc, value, error);
        return value;
    }

    private static string? BaselineName(string summary)
    {
        try
        {
            var info = new FileInfo(summary);
            if (!info.Exists || info.Length > MaxFileBytes)
            {
                return null;
            }
            var match = BaselineLine().Match(File.ReadAllText(summary));
            return match.Success ? match.Groups[1].Value : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    // Under the results directory only: a sibling sharing its prefix (artifacts/sla-baselines) keeps its own path.
    private string Relative(string path) =>
        options.Value.SlaResultsDirectory is { Length: > 0 } root
            && path.StartsWith(Path.TrimEndingDirectorySeparator(root) + Path.DirectorySeparatorChar, StringComparison.Ordinal)
            ? Path.GetRelativePath(root, path)
            : path;

    // The runner names folders yyyyMMdd-HHmmss; others sort by when they were made.
    private static DateTime Stamp(DirectoryInfo directory) =>
        DateTime.TryParseExact(directory.Name, "yyyyMMdd-HHmmss", CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var stamp) ? stamp : directory.CreationTimeUtc;

    private static int RunNumber(string name) =>
        int.TryParse(name.AsSpan("run-".Length), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : int.MaxValue;

    [GeneratedRegex(@"Against baseline '([^']{1,100})'")]
    private static partial Regex BaselineLine();
}

public static class SlaResultsExtensions
{
    public static IServiceCollection AddSlaResults(this IServiceCollection services) => services.AddSingleton<SlaResultsReader>();
}
