using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using HdrHistogram;

namespace AspirePerf.Bench;

/// <summary>
/// Three scenarios side by side in one run against a running system: one heavy registered query uncached (an
/// operator's <c>Cache-Control: no-cache</c>, sequential runs), the same query cached (closed-loop load), and the
/// constant-JSON endpoint with a body of the same size (the host's ceiling for that size, same load). Latencies go into
/// HdrHistogram; the ratios the cache issue targets are printed last.
/// </summary>
public static class CacheHttpBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var api = new Uri(Options.Get(args, "--api") ?? "http://localhost:5380");
        var query = Options.Get(args, "--query") ?? "wage-percentiles";
        var connections = Options.Int(args, "--connections", 16);
        var seconds = Options.Int(args, "--duration", 10);
        var warmupSeconds = Options.Int(args, "--warmup", 3);
        var uncachedRuns = Options.Int(args, "--uncached-runs", 7);
        var operatorKey = Options.Get(args, "--operator-key") ?? "dev-operator-key-not-for-production";

        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = connections, PooledConnectionLifetime = TimeSpan.FromMinutes(10) };
        using var http = new HttpClient(handler) { BaseAddress = api, Timeout = TimeSpan.FromMinutes(5) };
        var url = $"/api/v1/queries/{query}";

        using (var prime = await http.GetAsync(url))
        {
            prime.EnsureSuccessStatusCode();
        }
        using var sample = await http.GetAsync(url);
        var size = (await sample.Content.ReadAsByteArrayAsync()).Length;
        Console.WriteLine($"query {query}: {size:N0} bytes, X-Cache {sample.Headers.GetValues("X-Cache").Single()}; " +
            $"{connections} connections, {warmupSeconds} s warm-up + {seconds} s per load scenario");

        // 1. Uncached, sequential: every request recomputes on the database.
        var uncached = new LongHistogram(TimeStamp.Minutes(5), 3);
        for (var i = 0; i < uncachedRuns + 1; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.CacheControl = new CacheControlHeaderValue { NoCache = true };
            request.Headers.Add("X-Api-Key", operatorKey);
            var started = Stopwatch.GetTimestamp();
            using var response = await http.SendAsync(request);
            await response.Content.ReadAsByteArrayAsync();
            var cache = response.Headers.GetValues("X-Cache").Single();
            if (cache != "BYPASS")
            {
                throw new InvalidOperationException($"Expected an uncached answer, got X-Cache {cache}: is --operator-key an operator key?");
            }
            if (i > 0)
            {
                uncached.RecordValue(Micros(started));
            }
        }

        // 2. and 3. The same load on the cached query and on the constant body of the same size.
        var cached = await LoadAsync(http, url, connections, warmupSeconds, seconds, expectHit: true);
        var constant = await LoadAsync(http, $"/api/v1/system/constant?bytes={size}", connections, warmupSeconds, seconds, expectHit: false);

        Console.WriteLine();
        Console.WriteLine("| scenario | requests | req/s | p50 ms | p90 ms | p99 ms | max ms |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        Row($"`{query}` uncached (sequential)", uncached, null);
        Row($"`{query}` cached ({connections} connections)", cached.Histogram, cached.RequestsPerSecond);
        Row($"constant JSON, {size:N0} bytes ({connections} connections)", constant.Histogram, constant.RequestsPerSecond);
        Console.WriteLine();
        var speedup = uncached.GetValueAtPercentile(50) / (double)cached.Histogram.GetValueAtPercentile(50);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"cached p50 is {speedup:N0}× faster than uncached p50 (target ≥ 20×); cached throughput is " +
            $"{cached.RequestsPerSecond / constant.RequestsPerSecond:0.00}× the constant-JSON ceiling (target ≥ 0.5×); " +
            $"{cached.NonHits} cached-scenario answers were not hits."));
        return 0;
    }

    /// <summary>A warm-up of <paramref name="warmupSeconds"/>, then <paramref name="seconds"/> measured: requests per second and latencies.</summary>
    public static async Task<(double RequestsPerSecond, LongHistogram Histogram)> LoadForAsync(HttpClient http, string url, int connections, int warmupSeconds, int seconds)
    {
        if (seconds == 0)
        {
            await RunWorkersAsync(http, url, connections, TimeSpan.FromSeconds(warmupSeconds), null);
            return (0, new LongHistogram(TimeStamp.Minutes(1), 3));
        }
        var result = await LoadAsync(http, url, connections, warmupSeconds, seconds, expectHit: false);
        return (result.RequestsPerSecond, result.Histogram);
    }

    private static async Task<LoadResult> LoadAsync(HttpClient http, string url, int connections, int warmupSeconds, int seconds, bool expectHit)
    {
        await RunWorkersAsync(http, url, connections, TimeSpan.FromSeconds(warmupSeconds), null);
        var histograms = Enumerable.Range(0, connections).Select(_ => new LongHistogram(TimeStamp.Minutes(1), 3)).ToArray();
        var started = Stopwatch.GetTimestamp();
        var nonHits = await RunWorkersAsync(http, url, connections, TimeSpan.FromSeconds(seconds), histograms, expectHit);
        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var merged = new LongHistogram(TimeStamp.Minutes(1), 3);
        foreach (var h in histograms)
        {
            merged.Add(h);
        }
        return new LoadResult(merged, merged.TotalCount / elapsed, nonHits);
    }

    private static async Task<long> RunWorkersAsync(HttpClient http, string url, int connections, TimeSpan duration, LongHistogram[]? histograms, bool expectHit = false)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        long nonHits = 0;
        await Task.WhenAll(Enumerable.Range(0, connections).Select(worker => Task.Run(async () =>
        {
            while (Stopwatch.GetTimestamp() < deadline)
            {
                var started = Stopwatch.GetTimestamp();
                using var response = await http.GetAsync(url, HttpCompletionOption.ResponseContentRead);
                response.EnsureSuccessStatusCode();
                histograms?[worker].RecordValue(Micros(started));
                if (expectHit && histograms is not null && response.Headers.TryGetValues("X-Cache", out var cache) && cache.Single() != "HIT")
                {
                    Interlocked.Increment(ref nonHits);
                }
            }
        })));
        return nonHits;
    }

    private static long Micros(long started) => (long)Stopwatch.GetElapsedTime(started).TotalMicroseconds;

    private static void Row(string name, LongHistogram h, double? rps) => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {name} | {h.TotalCount:N0} | {(rps is { } r ? r.ToString("N0", CultureInfo.InvariantCulture) : "–")} | {h.GetValueAtPercentile(50) / 1000.0:0.000} | " +
        $"{h.GetValueAtPercentile(90) / 1000.0:0.000} | {h.GetValueAtPercentile(99) / 1000.0:0.000} | {h.GetMaxValue() / 1000.0:0.000} |"));

    private sealed record LoadResult(LongHistogram Histogram, double RequestsPerSecond, long NonHits);
}

internal static class Options
{
    public static string? Get(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    /// <summary>The option <paramref name="name"/>, else the environment variable <paramref name="environmentVariable"/>, else an error: "Pass name <paramref name="usage"/>."</summary>
    public static string Required(string[] args, string name, string environmentVariable, string usage) =>
        Get(args, name) ?? Environment.GetEnvironmentVariable(environmentVariable)
        ?? throw new InvalidOperationException($"Pass {name} {usage}.");

    public static int Int(string[] args, string name, int fallback) =>
        Get(args, name) is { } value ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;
}
