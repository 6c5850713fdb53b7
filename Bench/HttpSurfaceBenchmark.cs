using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace AspirePerf.Bench;

/// <summary>
/// The API's HTTP surface against a bare Kestrel, side by side in one run with wrk: a bare minimal API returning the
/// same bytes (a child process), a cached answer of about 4 KB (one keyset page of <c>employment-spells</c>), the same
/// answer Brotli-compressed from its stored copy, the same answer revalidated (<c>If-None-Match</c> → 304), and the
/// API's constant endpoint with the same byte count. One warm-up slice per scenario, then rounds in which every
/// scenario gets one slice, the order rotating every round so drift in the machine's speed spreads over all of them;
/// each scenario's median slice is reported, with the server process's CPU time per request (from <c>/proc</c>).
/// </summary>
public static class HttpSurfaceBenchmark
{
    private const string Query = "employment-spells";

    public static async Task<int> RunAsync(string[] args)
    {
        var api = new Uri(Options.Get(args, "--api") ?? "http://localhost:5380");
        var connections = Options.Int(args, "--connections", 32);
        var threads = Options.Int(args, "--threads", 2);
        var seconds = Options.Int(args, "--duration", 10);
        var warmupSeconds = Options.Int(args, "--warmup", 3);
        var rounds = Options.Int(args, "--rounds", 3);
        var targetBytes = Options.Int(args, "--target-bytes", 4096);
        var barePort = Options.Int(args, "--bare-port", 5399);
        var wrk = Options.Get(args, "--wrk") ?? "/usr/bin/wrk";

        using var handler = new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None };
        using var http = new HttpClient(handler) { BaseAddress = api };

        // The page size whose cached body is closest to the target: two probes give bytes per row and the fixed part.
        var limit = Options.Int(args, "--limit", 0);
        if (limit == 0)
        {
            var ten = (await GetAsync(http, PageUrl(10), [])).Body.Length;
            var twenty = (await GetAsync(http, PageUrl(20), [])).Body.Length;
            var perRow = (twenty - ten) / 10.0;
            limit = Math.Clamp((int)Math.Round((targetBytes - (ten - 10 * perRow)) / perRow), 1, 10_000);
        }
        var url = PageUrl(limit);

        // Prime until the answer is a hit, then take the identity and Brotli entity tags and check the 304.
        var identity = await PrimeAsync(http, url);
        var size = identity.Body.Length;
        var brotli = await GetAsync(http, url, ["Accept-Encoding: br"]);
        Require(brotli.Encoding == "br", $"Accept-Encoding: br answered Content-Encoding '{brotli.Encoding}'.");
        Require(brotli.Cache == "HIT", $"The Brotli answer was X-Cache {brotli.Cache}.");
        var notModified = await GetAsync(http, url, [$"If-None-Match: {identity.ETag}"]);
        Require(notModified.Status == HttpStatusCode.NotModified, $"If-None-Match {identity.ETag} answered {(int)notModified.Status}.");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{url}: {size:N0} bytes identity, {brotli.Body.Length:N0} bytes br ({brotli.Body.Length * 100.0 / size:0}%), " +
            $"ETag {identity.ETag}, {identity.CacheControl}, If-None-Match → 304"));

        var apiPid = Options.Int(args, "--api-pid", 0) is > 0 and var given ? given : ProcessStats.ListeningPid(api.Port);
        using var bare = await StartBareKestrelAsync(barePort, size);
        var bareBody = await http.GetByteArrayAsync(new Uri($"http://localhost:{barePort}/"));
        Require(bareBody.Length == size, $"bare-kestrel sent {bareBody.Length} bytes, expected {size}.");
        var constantUrl = $"/api/v1/system/constant?bytes={size}";
        Require((await GetAsync(http, constantUrl, [])).Body.Length == size, "The constant endpoint sent a different size.");

        Scenario[] scenarios =
        [
            new("bare", "bare Kestrel minimal API, same bytes (child process)", $"http://localhost:{barePort}/", [], size),
            new("cached", $"cached answer, identity (`{Query}?limit={limit}`, X-Cache HIT)", new Uri(api, url).ToString(), [], size),
            new("br", "cached answer, `Accept-Encoding: br` (stored compressed copy)", new Uri(api, url).ToString(), ["Accept-Encoding: br"], brotli.Body.Length),
            new("304", "cached answer, `If-None-Match` → 304", new Uri(api, url).ToString(), [$"If-None-Match: {identity.ETag}"], 0),
            new("constant", "API `/system/constant`, same bytes", new Uri(api, constantUrl).ToString(), [], size),
        ];
        Console.WriteLine($"wrk -t{threads} -c{connections}: {warmupSeconds} s warm-up per scenario, then {rounds} rounds of {seconds} s per scenario");

        foreach (var scenario in scenarios)
        {
            await Wrk.RunAsync(wrk, scenario.Url, threads, connections, warmupSeconds, scenario.Headers);
        }
        // The cache entry's TTL is short for a cheap page (minutes): every slice on the answer re-primes it and takes the
        // current ETag first, and a slice during which the entry was recomputed is flagged (one request was a miss; its
        // bytes, and so its ETag, stay the same while the rows do, since the body carries no timing).
        var results = scenarios.ToDictionary(s => s.Key, _ => new List<WrkResult>());
        var recomputed = 0;
        for (var round = 0; round < rounds; round++)
        {
            foreach (var scenario in scenarios.Skip(round % scenarios.Length).Concat(scenarios.Take(round % scenarios.Length)))
            {
                var onAnswer = scenario.Key is "cached" or "br" or "304";
                string? before = null;
                var headers = scenario.Headers;
                if (onAnswer)
                {
                    before = (await PrimeAsync(http, url)).ETag;
                    if (scenario.Key == "304")
                    {
                        headers = [$"If-None-Match: {before}"];
                    }
                }
                var server = scenario.Key == "bare" ? bare.Id : apiPid;
                var cpuBefore = ProcessStats.CpuTime(server);
                var result = await Wrk.RunAsync(wrk, scenario.Url, threads, connections, seconds, headers);
                var cpu = ProcessStats.CpuTime(server) - cpuBefore;
                result = result with { ServerCpuMicrosPerRequest = cpu.TotalMicroseconds / result.Requests, ServerCores = cpu.TotalSeconds / result.Seconds };
                results[scenario.Key].Add(result);
                var changed = onAnswer && (await GetAsync(http, url, [])).ETag != before;
                recomputed += changed ? 1 : 0;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"round {round + 1} {scenario.Key,-8} {result.RequestsPerSecond,10:N0} req/s  p50 {result.P50Ms:0.00} ms  p99 {result.P99Ms:0.00} ms  " +
                    $"{result.BytesPerResponse:N0} B/response  server {result.ServerCores:0.00} cores, {result.ServerCpuMicrosPerRequest:0} µs CPU/request{(result.NotOk + result.SocketErrors > 0 ? $"  NOT OK: {result.NotOk} non-2xx/3xx, {result.SocketErrors} socket errors" : "")}" +
                    $"{(changed ? "  (the cache entry was recomputed during this slice)" : "")}"));
            }
        }

        Console.WriteLine();
        Console.WriteLine($"| scenario | body bytes | wire bytes/response | median req/s | req/s per round | p50 ms | p99 ms | server cores | server CPU µs/request |");
        Console.WriteLine("|---|---:|---:|---:|---|---:|---:|---:|---:|");
        foreach (var scenario in scenarios)
        {
            var all = results[scenario.Key];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {scenario.Name} | {scenario.BodyBytes:N0} | {Median(all, r => r.BytesPerResponse):N0} | **{Median(all, r => r.RequestsPerSecond):N0}** | " +
                $"{string.Join(" / ", all.Select(r => r.RequestsPerSecond.ToString("N0", CultureInfo.InvariantCulture)))} | " +
                $"{Median(all, r => r.P50Ms):0.00} | {Median(all, r => r.P99Ms):0.00} | {Median(all, r => r.ServerCores):0.00} | {Median(all, r => r.ServerCpuMicrosPerRequest):0} |"));
        }
        double Rps(string key) => Median(results[key], r => r.RequestsPerSecond);
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
            cached / bare          {Rps("cached") / Rps("bare"):0.00}  (target ≥ 0.6)
            br / cached identity   {Rps("br") / Rps("cached"):0.00}  (target ≥ 0.9)
            304 / cached identity  {Rps("304") / Rps("cached"):0.00}
            constant / bare        {Rps("constant") / Rps("bare"):0.00}
            cached / constant      {Rps("cached") / Rps("constant"):0.00}
            """));
        if (recomputed > 0)
        {
            Console.WriteLine($"warning: the cache entry expired and was recomputed during {recomputed} slice(s)");
        }
        var failures = results.Values.SelectMany(r => r).Sum(r => r.NotOk + r.SocketErrors);
        if (failures > 0)
        {
            Console.WriteLine($"warning: {failures:N0} non-2xx/3xx responses or socket errors in the measured slices");
        }
        return 0;
    }

    private static async Task<Answer> PrimeAsync(HttpClient http, string url)
    {
        Answer answer = default;
        for (var attempt = 0; attempt < 5 && answer.Cache != "HIT"; attempt++)
        {
            answer = await GetAsync(http, url, []);
        }
        Require(answer.Cache == "HIT", $"{url} is not a cache hit after 5 requests (X-Cache {answer.Cache}).");
        return answer;
    }

    private static string PageUrl(int limit) => $"/api/v1/queries/{Query}?limit={limit}";

    private static async Task<BareKestrelProcess> StartBareKestrelAsync(int port, int bytes)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(typeof(BareKestrel).Assembly.Location);
        start.ArgumentList.Add("bare-kestrel");
        start.ArgumentList.Add("--port");
        start.ArgumentList.Add(port.ToString(CultureInfo.InvariantCulture));
        start.ArgumentList.Add("--bytes");
        start.ArgumentList.Add(bytes.ToString(CultureInfo.InvariantCulture));
        // The API runs with the server GC (the Web SDK's default); so does its ceiling.
        start.Environment["DOTNET_gcServer"] = "1";
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start bare-kestrel.");
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        if (line is null || !line.StartsWith("bare-kestrel listening", StringComparison.Ordinal))
        {
            process.Kill();
            throw new InvalidOperationException($"bare-kestrel did not start: {line}");
        }
        Console.WriteLine($"{line} (pid {process.Id})");
        return new BareKestrelProcess(process);
    }

    private static async Task<Answer> GetAsync(HttpClient http, string url, string[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        foreach (var header in headers)
        {
            var colon = header.IndexOf(':', StringComparison.Ordinal);
            request.Headers.TryAddWithoutValidation(header[..colon], header[(colon + 1)..].Trim());
        }
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        if (response.StatusCode != HttpStatusCode.NotModified)
        {
            response.EnsureSuccessStatusCode();
        }
        return new Answer(response.StatusCode, body,
            response.Headers.TryGetValues("X-Cache", out var cache) ? cache.Single() : null,
            response.Headers.ETag?.ToString(),
            string.Join(",", response.Content.Headers.ContentEncoding),
            response.Headers.CacheControl?.ToString());
    }

    private static double Median(List<WrkResult> results, Func<WrkResult, double> value)
    {
        var sorted = results.Select(value).Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidOperationException(message);
        }
    }

    private readonly record struct Answer(HttpStatusCode Status, byte[] Body, string? Cache, string? ETag, string Encoding, string? CacheControl);

    private sealed record Scenario(string Key, string Name, string Url, string[] Headers, int BodyBytes);

    /// <summary>The child process, stopped (killed: it holds no state) when the run ends, however it ends.</summary>
    private sealed class BareKestrelProcess(Process process) : IDisposable
    {
        public int Id => process.Id;

        public void Dispose()
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit();
            }
            process.Dispose();
        }
    }
}
