using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace AspirePerf.Bench;

/// <summary>One wrk run's numbers, parsed from its text output (<c>--latency</c>).</summary>
public sealed record WrkResult(
    double RequestsPerSecond,
    long Requests,
    double Seconds,
    double BytesRead,
    double P50Ms,
    double P90Ms,
    double P99Ms,
    long NotOk,
    long SocketErrors)
{
    /// <summary>The server's CPU time per request in the run (filled in by the caller, who knows the server's pid).</summary>
    public double ServerCpuMicrosPerRequest { get; init; } = double.NaN;

    /// <summary>The server's CPU time over the run's wall time: cores busy.</summary>
    public double ServerCores { get; init; } = double.NaN;

    /// <summary>Bytes on the wire per response, headers included (wrk counts everything it read).</summary>
    public double BytesPerResponse => Requests == 0 ? 0 : BytesRead / Requests;
}

/// <summary>
/// Runs wrk (<c>/usr/bin/wrk</c> or <c>--wrk PATH</c>) as a child process and parses its report. Headers go on the
/// command line (<c>-H</c>), so no Lua script is needed: every request of a run is the same.
/// </summary>
public static partial class Wrk
{
    public static async Task<WrkResult> RunAsync(string wrk, string url, int threads, int connections, int seconds,
        IReadOnlyList<string> headers, CancellationToken cancellationToken = default)
    {
        var start = new ProcessStartInfo(wrk) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "-t", threads.ToString(CultureInfo.InvariantCulture), "-c", connections.ToString(CultureInfo.InvariantCulture),
                     "-d", $"{seconds}s", "--timeout", "10s", "--latency" })
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var header in headers)
        {
            start.ArgumentList.Add("-H");
            start.ArgumentList.Add(header);
        }
        start.ArgumentList.Add(url);

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {wrk}.");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var text = await output;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"wrk exited with {process.ExitCode}: {await error}{text}");
        }
        return Parse(text);
    }

    public static WrkResult Parse(string text)
    {
        var summary = Summary().Match(text);
        var rps = RequestsPerSecond().Match(text);
        if (!summary.Success || !rps.Success)
        {
            throw new FormatException($"Unrecognised wrk output:\n{text}");
        }
        var notOk = NotOk().Match(text);
        var socket = SocketErrors().Match(text);
        return new WrkResult(
            double.Parse(rps.Groups[1].Value, CultureInfo.InvariantCulture),
            long.Parse(summary.Groups["requests"].Value, CultureInfo.InvariantCulture),
            Milliseconds(summary.Groups["time"].Value, summary.Groups["timeUnit"].Value) / 1000,
            double.Parse(summary.Groups["read"].Value, CultureInfo.InvariantCulture) * BinaryUnit(summary.Groups["readUnit"].Value),
            Percentile(text, "50"),
            Percentile(text, "90"),
            Percentile(text, "99"),
            notOk.Success ? long.Parse(notOk.Groups[1].Value, CultureInfo.InvariantCulture) : 0,
            socket.Success ? Enumerable.Range(1, 4).Sum(i => long.Parse(socket.Groups[i].Value, CultureInfo.InvariantCulture)) : 0);
    }

    private static double Percentile(string text, string percent)
    {
        var match = Regex.Match(text, $@"^\s+{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", RegexOptions.Multiline);
        return match.Success ? Milliseconds(match.Groups[1].Value, match.Groups[2].Value) : double.NaN;
    }

    private static double Milliseconds(string value, string unit) => double.Parse(value, CultureInfo.InvariantCulture) * unit switch
    {
        "us" => 0.001,
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => throw new FormatException($"Unknown wrk time unit '{unit}'."),
    };

    // wrk prints byte counts with binary prefixes (1KB = 1024 B).
    private static double BinaryUnit(string unit) => unit switch
    {
        "B" => 1,
        "KB" => 1024,
        "MB" => 1024 * 1024,
        "GB" => 1024.0 * 1024 * 1024,
        "TB" => 1024.0 * 1024 * 1024 * 1024,
        _ => throw new FormatException($"Unknown wrk size unit '{unit}'."),
    };

    [GeneratedRegex(@"(?<requests>\d+) requests in (?<time>[\d.]+)(?<timeUnit>us|ms|s|m|h), (?<read>[\d.]+)(?<readUnit>B|KB|MB|GB|TB) read")]
    private static partial Regex Summary();

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex RequestsPerSecond();

    [GeneratedRegex(@"Non-2xx or 3xx responses: (\d+)")]
    private static partial Regex NotOk();

    [GeneratedRegex(@"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")]
    private static partial Regex SocketErrors();
}
