using System.Diagnostics;
using System.Text.Json;

namespace AspirePerf.TestSupport;

/// <summary>
/// Runs Redocly CLI (<c>redocly lint</c>, installed from npm into eng/openapi-lint by eng/install-prerequisites.sh) with
/// the repository's eng/openapi-lint/redocly.yaml on an OpenAPI document.
/// </summary>
public static class Redocly
{
    public static string Directory => Path.Combine(TestDirectories.RepositoryRoot, "eng", "openapi-lint");

    public static async Task<LintResult> LintAsync(string documentJson)
    {
        var executable = Path.Combine(Directory, "node_modules", ".bin", "redocly");
        if (!File.Exists(executable))
        {
            throw new InvalidOperationException($"{executable} is missing: run eng/install-prerequisites.sh (npm ci in eng/openapi-lint).");
        }
        var file = Path.Combine(Path.GetTempPath(), $"aspireperf-openapi-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, documentJson);
        try
        {
            var json = await RunAsync(executable, ["lint", file, "--config", Path.Combine(Directory, "redocly.yaml"), "--format", "json"]);
            var readable = await RunAsync(executable, ["lint", file, "--config", Path.Combine(Directory, "redocly.yaml"), "--format", "stylish"]);
            // The JSON report is followed on the same stream by notices (such as Node.js deprecation banners): read one value.
            var reader = new Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(json.Output[json.Output.IndexOf('{', StringComparison.Ordinal)..]));
            using var report = JsonDocument.ParseValue(ref reader);
            var totals = report.RootElement.GetProperty("totals");
            return new LintResult(json.ExitCode, totals.GetProperty("errors").GetInt32(), totals.GetProperty("warnings").GetInt32(), readable.Output);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string executable, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Directory,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        // No usage telemetry and no update check: the test machines reach the npm registry only.
        info.Environment["REDOCLY_TELEMETRY"] = "off";
        info.Environment["REDOCLY_SUPPRESS_UPDATE_NOTICE"] = "true";
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{executable} did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, (await stdout) + (await stderr));
    }
}

public sealed record LintResult(int ExitCode, int Errors, int Warnings, string Report);
