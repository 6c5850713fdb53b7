using AspirePerf.TestSupport;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace AspirePerf.AppHost.Tests;

/// <summary>The repository's Prometheus rules (eng/prometheus/rules) and their promtool unit tests (eng/prometheus/tests), read as data.</summary>
public static class PrometheusRuleFiles
{
    public static string Directory => Path.Combine(TestDirectories.RepositoryRoot, "eng", "prometheus");

    public static IReadOnlyList<string> Rules => [.. System.IO.Directory.GetFiles(Path.Combine(Directory, "rules"), "*.yml").Order(StringComparer.Ordinal)];

    public static IReadOnlyList<string> Tests => [.. System.IO.Directory.GetFiles(Path.Combine(Directory, "tests"), "*.test.yml").Order(StringComparer.Ordinal)];

    public static IReadOnlyList<(string File, Rule Rule)> AllRules =>
        [.. Rules.SelectMany(file => Read<RuleFile>(file).Groups.SelectMany(g => g.Rules).Select(rule => (Path.GetFileName(file), rule)))];

    public static IReadOnlyList<(string File, TestFile Test)> AllTests => [.. Tests.Select(file => (file, Read<TestFile>(file)))];

    private static readonly IDeserializer Yaml = new DeserializerBuilder()
        .WithNamingConvention(UnderscoredNamingConvention.Instance)
        .IgnoreUnmatchedProperties()
        .Build();

    private static T Read<T>(string file) => Yaml.Deserialize<T>(File.ReadAllText(file));

    public sealed class RuleFile
    {
        public List<RuleGroup> Groups { get; init; } = [];
    }

    public sealed class RuleGroup
    {
        public string Name { get; init; } = "";

        public List<Rule> Rules { get; init; } = [];
    }

    public sealed class Rule
    {
        public string? Record { get; init; }

        public string? Alert { get; init; }

        public string Expr { get; init; } = "";

        public string? For { get; init; }

        public Dictionary<string, string> Labels { get; init; } = [];

        public Dictionary<string, string> Annotations { get; init; } = [];
    }

    public sealed class TestFile
    {
        public List<string> RuleFiles { get; init; } = [];

        public List<TestGroup> Tests { get; init; } = [];
    }

    public sealed class TestGroup
    {
        public string Name { get; init; } = "";

        public List<AlertTest> AlertRuleTest { get; init; } = [];
    }

    public sealed class AlertTest
    {
        public string Alertname { get; init; } = "";

        public string EvalTime { get; init; } = "";

        public List<Dictionary<string, object>> ExpAlerts { get; init; } = [];
    }
}
