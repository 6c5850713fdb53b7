using System.Text.RegularExpressions;
using AspirePerf.TestSupport;
using Xunit.Abstractions;

namespace AspirePerf.AppHost.Tests;

/// <summary>
/// The alerting and recording rules are code: promtool checks them and runs their unit tests (synthetic series against
/// expected alerts), every alert is tested firing and quiet, and every alert tells an operator what happened and where
/// its runbook is.
/// </summary>
public sealed partial class PrometheusRulesTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Every_rule_file_passes_promtool_check_rules()
    {
        Assert.NotEmpty(PrometheusRuleFiles.Rules);

        var (exitCode, text) = await Promtool.CheckRulesAsync(PrometheusRuleFiles.Rules);

        output.WriteLine(text);
        Assert.True(exitCode == 0, $"promtool check rules failed:{Environment.NewLine}{text}");
    }

    [Fact]
    public async Task The_rules_unit_tests_pass_under_promtool_test_rules()
    {
        Assert.NotEmpty(PrometheusRuleFiles.Tests);

        var (exitCode, text) = await Promtool.TestRulesAsync(PrometheusRuleFiles.Tests);

        output.WriteLine(text);
        Assert.True(exitCode == 0, $"promtool test rules failed:{Environment.NewLine}{text}");
    }

    [Fact]
    public void Every_rule_file_is_loaded_by_a_unit_test_file()
    {
        var tested = PrometheusRuleFiles.AllTests
            .SelectMany(t => t.Test.RuleFiles.Select(r => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(t.File)!, r))))
            .ToHashSet(StringComparer.Ordinal);

        Assert.All(PrometheusRuleFiles.Rules, file => Assert.Contains(Path.GetFullPath(file), tested));
    }

    [Fact]
    public void Every_alert_is_tested_at_least_once_firing_and_once_quiet()
    {
        var cases = PrometheusRuleFiles.AllTests.SelectMany(t => t.Test.Tests).SelectMany(g => g.AlertRuleTest).ToList();
        var alerts = PrometheusRuleFiles.AllRules.Where(r => r.Rule.Alert is not null).Select(r => r.Rule.Alert!).ToList();
        Assert.NotEmpty(alerts);

        var missing = alerts.SelectMany(alert => new[]
            {
                cases.Any(c => c.Alertname == alert && c.ExpAlerts.Count > 0) ? null : $"{alert}: no case where it fires",
                cases.Any(c => c.Alertname == alert && c.ExpAlerts.Count == 0) ? null : $"{alert}: no case where it stays quiet",
            })
            .OfType<string>()
            .ToList();

        Assert.True(missing.Count == 0, string.Join(Environment.NewLine, missing));
        Assert.DoesNotContain(cases, c => !alerts.Contains(c.Alertname));
    }

    [Fact]
    public void Every_alert_has_a_severity_a_summary_a_description_and_a_runbook_section_in_the_docs()
    {
        var docs = File.ReadAllText(Path.Combine(TestDirectories.RepositoryRoot, "docs", "prometheus.md"));
        var anchors = Heading().Matches(docs).Select(m => GitHubAnchor(m.Groups["title"].Value)).ToHashSet(StringComparer.Ordinal);

        var alerts = PrometheusRuleFiles.AllRules.Where(r => r.Rule.Alert is not null).ToList();
        Assert.NotEmpty(alerts);
        Assert.All(alerts, entry =>
        {
            var (file, rule) = entry;
            var where = $"{rule.Alert} in {file}";
            Assert.True(rule.Labels.TryGetValue("severity", out var severity) && severity is "warning" or "critical", $"{where}: severity must be warning or critical");
            Assert.False(string.IsNullOrWhiteSpace(rule.Annotations.GetValueOrDefault("summary")), $"{where}: no summary");
            Assert.False(string.IsNullOrWhiteSpace(rule.Annotations.GetValueOrDefault("description")), $"{where}: no description");
            var runbook = rule.Annotations.GetValueOrDefault("runbook_url") ?? "";
            Assert.StartsWith("docs/prometheus.md#", runbook, StringComparison.Ordinal);
            var anchor = runbook["docs/prometheus.md#".Length..];
            Assert.True(anchors.Contains(anchor), $"{where}: docs/prometheus.md has no heading for #{anchor}");
        });
    }

    [Fact]
    public void Names_are_unique_and_recorded_series_follow_the_level_metric_operations_convention()
    {
        var rules = PrometheusRuleFiles.AllRules.Select(r => r.Rule).ToList();
        var alertNames = rules.Where(r => r.Alert is not null).Select(r => r.Alert!).ToList();
        var recordNames = rules.Where(r => r.Record is not null).Select(r => r.Record!).ToList();

        Assert.Equal(alertNames.Count, alertNames.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(recordNames.Count, recordNames.Distinct(StringComparer.Ordinal).Count());
        Assert.All(recordNames, name => Assert.Matches("^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$", name));
    }

    // GitHub's heading anchors: lowercase, punctuation other than '-' and '_' dropped, spaces to '-'.
    private static string GitHubAnchor(string title) =>
        new string([.. title.Trim().ToLowerInvariant().Where(c => char.IsLetterOrDigit(c) || c is ' ' or '-' or '_')]).Replace(' ', '-');

    [GeneratedRegex(@"^#{1,6}\s+(?<title>.+?)\s*$", RegexOptions.Multiline)]
    private static partial Regex Heading();
}
