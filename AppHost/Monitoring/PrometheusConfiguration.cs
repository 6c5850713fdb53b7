using System.Globalization;
using System.Text;

namespace AspirePerf.AppHost.Monitoring;

/// <summary>
/// Prometheus's configuration as the AppHost writes it, the same both ways: one scrape job per service, named after its
/// resource, whose address comes from a targets file (file-based service discovery), and the repository's rule files.
/// The targets files are written by <see cref="WriteTargetsThenRun"/> as Prometheus starts, from the service addresses
/// Aspire resolved for the Prometheus resource (<c>services__&lt;name&gt;__http__0</c>): localhost for the executable,
/// the container network's name of the host for the container.
/// </summary>
public static class PrometheusConfiguration
{
    public const string ResourceName = "prometheus";
    public const string ConfigFileName = "prometheus.yml";

    /// <summary>Environment variables <see cref="WriteTargetsThenRun"/> reads besides Aspire's service addresses.</summary>
    public const string JobsVariable = "SCRAPE_JOBS";
    public const string TargetsDirectoryVariable = "SCRAPE_TARGETS_DIRECTORY";

    /// <param name="ruleFiles">A path or glob of rule files (<c>.../rules/*.yml</c>).</param>
    /// <param name="targetsDirectory">Where the targets files are (<c>&lt;job&gt;.json</c> each).</param>
    public static string Render(string ruleFiles, string targetsDirectory, IReadOnlyList<string> jobs, int scrapeIntervalSeconds, int evaluationIntervalSeconds)
    {
        ArgumentException.ThrowIfNullOrEmpty(ruleFiles);
        ArgumentException.ThrowIfNullOrEmpty(targetsDirectory);
        ArgumentNullException.ThrowIfNull(jobs);
        ArgumentOutOfRangeException.ThrowIfLessThan(scrapeIntervalSeconds, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(evaluationIntervalSeconds, 1);
        foreach (var job in jobs)
        {
            // The job's name becomes a file name and a shell word in WriteTargetsThenRun.
            if (job.Length == 0 || !job.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
            {
                throw new ArgumentException($"'{job}' is not a usable job name: lowercase letters, digits and '-' only.", nameof(jobs));
            }
        }

        var text = new StringBuilder();
        text.AppendLine("# Written by the AppHost each time Prometheus starts (AppHost/Monitoring/PrometheusConfiguration.cs); edits here are lost.");
        text.AppendLine("global:");
        text.AppendLine(CultureInfo.InvariantCulture, $"  scrape_interval: {scrapeIntervalSeconds}s");
        // Prometheus refuses a scrape timeout longer than the interval; its default is 10 s.
        text.AppendLine(CultureInfo.InvariantCulture, $"  scrape_timeout: {Math.Min(10, scrapeIntervalSeconds)}s");
        text.AppendLine(CultureInfo.InvariantCulture, $"  evaluation_interval: {evaluationIntervalSeconds}s");
        text.AppendLine("rule_files:");
        text.AppendLine(CultureInfo.InvariantCulture, $"  - {Quote(ruleFiles)}");
        text.AppendLine("scrape_configs:");
        foreach (var job in jobs)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  - job_name: {Quote(job)}");
            text.AppendLine("    metrics_path: /metrics");
            text.AppendLine("    file_sd_configs:");
            text.AppendLine(CultureInfo.InvariantCulture, $"      - files: [{Quote(TargetsFile(targetsDirectory, job))}]");
        }
        return text.ToString();
    }

    public static string TargetsFile(string targetsDirectory, string job) => $"{targetsDirectory.TrimEnd('/')}/{job}.json";

    /// <summary>
    /// <c>sh -c</c> program run in Prometheus's place (POSIX sh: Debian's dash, the image's busybox): writes one targets
    /// file per job in <c>$SCRAPE_JOBS</c> from Aspire's <c>services__&lt;job&gt;__http__0</c> (scheme and path dropped),
    /// each replaced whole so file discovery never reads half a file, then execs its arguments (<c>$0</c> is the
    /// prometheus binary) with stderr joined to stdout, since Prometheus logs every line to stderr.
    /// </summary>
    public const string WriteTargetsThenRun = """
        set -e
        mkdir -p "$SCRAPE_TARGETS_DIRECTORY"
        for job in $SCRAPE_JOBS; do
          eval "url=\${services__${job}__http__0:-}"
          if [ -z "$url" ]; then
            echo "prometheus: no address for $job: services__${job}__http__0 is not set" >&2
            exit 1
          fi
          address=${url#*://}
          address=${address%%/*}
          printf '[{"targets":["%s"]}]\n' "$address" > "$SCRAPE_TARGETS_DIRECTORY/$job.json.tmp"
          mv "$SCRAPE_TARGETS_DIRECTORY/$job.json.tmp" "$SCRAPE_TARGETS_DIRECTORY/$job.json"
        done
        exec "$0" "$@" 2>&1
        """;

    // YAML single-quoted scalar: only the quote itself needs escaping.
    private static string Quote(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";
}
