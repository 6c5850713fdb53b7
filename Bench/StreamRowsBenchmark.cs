using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using AspirePerf.Workforce.Queries;
using Npgsql;

namespace AspirePerf.Bench;

/// <summary>
/// Streaming every row of <c>employment-spells</c> (1,000,000 at the default scale) as NDJSON from
/// <c>GET /api/v1/queries/employment-spells/rows</c>, read and discarded, while the API process's resident memory is
/// sampled every 100 ms; side by side with the database's own ceiling: <c>COPY (the same SELECT, default parameters
/// inlined) TO STDOUT</c> through Npgsql's text export, read and discarded. Rounds alternate which goes first; medians.
/// </summary>
public static class StreamRowsBenchmark
{
    private const string Query = "employment-spells";

    public static async Task<int> RunAsync(string[] args)
    {
        var api = new Uri(Options.Get(args, "--api") ?? "http://localhost:5380");
        var workforce = Options.Get(args, "--workforce") ?? LocalConnectionString();
        var rounds = Options.Int(args, "--rounds", 3);
        var warmups = Options.Int(args, "--warmup", 1);
        var pid = Options.Int(args, "--api-pid", 0) is > 0 and var given ? given : ProcessStats.ListeningPid(api.Port);
        Console.WriteLine($"API {api} is pid {pid} ({ProcessStats.Name(pid)})");

        var copy = CopyStatement();
        Console.WriteLine($"COPY ({copy.ReplaceLineEndings(" ")}) TO STDOUT");

        using var handler = new SocketsHttpHandler { AutomaticDecompression = System.Net.DecompressionMethods.None };
        using var http = new HttpClient(handler) { BaseAddress = api, Timeout = TimeSpan.FromMinutes(10) };
        await using var dataSource = NpgsqlDataSource.Create(workforce);

        for (var i = 0; i < warmups; i++)
        {
            var warm = await StreamApiAsync(http, pid);
            var warmCopy = await CopyAsync(dataSource, copy);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"warm-up {i + 1}: API {warm.Rows:N0} rows in {warm.Seconds:0.00} s, COPY {warmCopy.Rows:N0} rows in {warmCopy.Seconds:0.00} s"));
        }

        var apiRuns = new List<ApiRun>();
        var copyRuns = new List<CopyRun>();
        for (var round = 0; round < rounds; round++)
        {
            for (var turn = 0; turn < 2; turn++)
            {
                if ((turn == 0) == (round % 2 == 0))
                {
                    var run = await StreamApiAsync(http, pid);
                    apiRuns.Add(run);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"round {round + 1} API   {run.Rows:N0} rows, {run.Bytes / 1048576.0:N0} MiB in {run.Seconds:0.00} s = {run.RowsPerSecond:N0} rows/s " +
                        $"(first byte after {run.FirstByteMs:N0} ms); RSS {Mib(run.BaselineKb)} → peak {Mib(run.PeakKb)} MiB " +
                        $"(+{Mib(run.PeakKb - run.BaselineKb)}), {Mib(run.AfterKb)} MiB after"));
                }
                else
                {
                    var run = await CopyAsync(dataSource, copy);
                    copyRuns.Add(run);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"round {round + 1} COPY  {run.Rows:N0} rows, {run.Bytes / 1048576.0:N0} MiB in {run.Seconds:0.00} s = {run.RowsPerSecond:N0} rows/s"));
                }
            }
        }

        var apiRate = Median(apiRuns.Select(r => r.RowsPerSecond));
        var copyRate = Median(copyRuns.Select(r => r.RowsPerSecond));
        var growth = apiRuns.Select(r => (r.PeakKb - r.BaselineKb) / 1024.0).ToArray();
        Console.WriteLine();
        Console.WriteLine("| scenario | rows | MiB | median s | median rows/s | rows/s per round |");
        Console.WriteLine("|---|---:|---:|---:|---:|---|");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| API `/rows`, NDJSON, identity | {apiRuns[0].Rows:N0} | {apiRuns[0].Bytes / 1048576.0:N0} | {Median(apiRuns.Select(r => r.Seconds)):0.00} | **{apiRate:N0}** | " +
            $"{string.Join(" / ", apiRuns.Select(r => r.RowsPerSecond.ToString("N0", CultureInfo.InvariantCulture)))} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| `COPY … TO STDOUT` (text), Npgsql | {copyRuns[0].Rows:N0} | {copyRuns[0].Bytes / 1048576.0:N0} | {Median(copyRuns.Select(r => r.Seconds)):0.00} | **{copyRate:N0}** | " +
            $"{string.Join(" / ", copyRuns.Select(r => r.RowsPerSecond.ToString("N0", CultureInfo.InvariantCulture)))} |"));
        Console.WriteLine();
        Console.WriteLine("| API RSS per stream | baseline MiB | peak MiB | growth MiB | after MiB |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        for (var i = 0; i < apiRuns.Count; i++)
        {
            var r = apiRuns[i];
            Console.WriteLine($"| round {i + 1} | {Mib(r.BaselineKb)} | {Mib(r.PeakKb)} | {Mib(r.PeakKb - r.BaselineKb)} | {Mib(r.AfterKb)} |");
        }
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"API / COPY {apiRate / copyRate:0.00}; RSS growth during a stream: median {Median(growth):0} MiB, max {growth.Max():0} MiB (target < 64 MiB)"));
        return 0;
    }

    private static async Task<ApiRun> StreamApiAsync(HttpClient http, int pid)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/queries/{Query}/rows");
        request.Headers.Accept.ParseAdd("application/x-ndjson");
        var baseline = ProcessStats.RssKb(pid);
        using var sampling = new CancellationTokenSource();
        var peak = SamplePeakAsync(pid, baseline, sampling.Token);

        var started = Stopwatch.GetTimestamp();
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        if (response.Content.Headers.ContentType?.MediaType != "application/x-ndjson")
        {
            throw new InvalidOperationException($"Expected application/x-ndjson, got {response.Content.Headers.ContentType}.");
        }
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[64 * 1024];
        long bytes = 0, lines = 0;
        double firstByteMs = 0;
        byte last = (byte)'\n';
        int read;
        while ((read = await body.ReadAsync(buffer)) > 0)
        {
            if (bytes == 0)
            {
                firstByteMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }
            bytes += read;
            lines += buffer.AsSpan(0, read).Count((byte)'\n');
            last = buffer[read - 1];
        }
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        await sampling.CancelAsync();
        var peakKb = await peak;
        var rows = lines + (last == '\n' ? 0 : 1);
        return new ApiRun(rows, bytes, seconds, firstByteMs, baseline, peakKb, ProcessStats.RssKb(pid));
    }

    private static async Task<CopyRun> CopyAsync(NpgsqlDataSource dataSource, string select)
    {
        var started = Stopwatch.GetTimestamp();
        await using var connection = await dataSource.OpenConnectionAsync();
        using var export = await connection.BeginTextExportAsync($"COPY ({select}) TO STDOUT");
        var buffer = new char[64 * 1024];
        long chars = 0, rows = 0;
        int read;
        while ((read = await export.ReadAsync(buffer)) > 0)
        {
            chars += read;
            rows += buffer.AsSpan(0, read).Count('\n');
        }
        return new CopyRun(rows, chars, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    /// <summary>The registered SELECT with the listing's defaults as literals: all dates, every sector, from the first row.</summary>
    private static string CopyStatement()
    {
        var query = WorkforceQueries.All.Single(q => q.Id == Query);
        return query.Sql
            .Replace("@from", "DATE '2015-01-01'", StringComparison.Ordinal)
            .Replace("@to", "DATE '2025-12-31'", StringComparison.Ordinal)
            .Replace("@sector", "NULL::text", StringComparison.Ordinal)
            .Replace("@after", "NULL::bigint", StringComparison.Ordinal);
    }

    private static async Task<long> SamplePeakAsync(int pid, long baseline, CancellationToken cancellationToken)
    {
        var peak = baseline;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                peak = Math.Max(peak, ProcessStats.RssKb(pid));
            }
        }
        catch (OperationCanceledException)
        {
        }
        return Math.Max(peak, ProcessStats.RssKb(pid));
    }

    /// <summary>The AppHost's local PostgreSQL (port 55432) with the password from <c>.data/secrets.json</c>.</summary>
    private static string LocalConnectionString()
    {
        using var secrets = JsonDocument.Parse(File.ReadAllText(Path.Combine(".data", "secrets.json")));
        return new NpgsqlConnectionStringBuilder
        {
            Host = "localhost",
            Port = 55432,
            Database = "workforce",
            Username = "postgres",
            Password = secrets.RootElement.GetProperty("PostgresPassword").GetString(),
        }.ConnectionString;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string Mib(long kb) => (kb / 1024.0).ToString("0", CultureInfo.InvariantCulture);

    private sealed record ApiRun(long Rows, long Bytes, double Seconds, double FirstByteMs, long BaselineKb, long PeakKb, long AfterKb)
    {
        public double RowsPerSecond => Rows / Seconds;
    }

    private sealed record CopyRun(long Rows, long Bytes, double Seconds)
    {
        public double RowsPerSecond => Rows / Seconds;
    }
}
