using System.Diagnostics;

namespace AspirePerf.TestSupport;

/// <summary>Runs Prometheus's <c>promtool</c> (Debian package prometheus) and returns its exit code and everything it printed.</summary>
public static class Promtool
{
    /// <summary><c>promtool check metrics</c> over a scrape.</summary>
    public static Task<(int ExitCode, string Output)> CheckMetricsAsync(string exposition) => RunAsync(["check", "metrics"], exposition);

    /// <summary><c>promtool check rules</c>: the files parse, every expression is valid PromQL, no rule is defined twice.</summary>
    public static Task<(int ExitCode, string Output)> CheckRulesAsync(IEnumerable<string> ruleFiles) => RunAsync(["check", "rules", .. ruleFiles]);

    /// <summary><c>promtool test rules</c>: the rules' unit tests, synthetic series against expected alerts and samples.</summary>
    public static Task<(int ExitCode, string Output)> TestRulesAsync(IEnumerable<string> testFiles) => RunAsync(["test", "rules", .. testFiles]);

    /// <summary><c>promtool check config</c>: a Prometheus configuration and the rule files it names.</summary>
    public static Task<(int ExitCode, string Output)> CheckConfigAsync(string configFile) => RunAsync(["check", "config", configFile]);

    private static async Task<(int ExitCode, string Output)> RunAsync(IEnumerable<string> arguments, string? input = null)
    {
        var info = new ProcessStartInfo("promtool", arguments)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(info) ?? throw new InvalidOperationException("promtool did not start (apt-get install prometheus).");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
        }
        process.StandardInput.Close();
        await process.WaitForExitAsync();
        return (process.ExitCode, (await stdout) + (await stderr));
    }
}
