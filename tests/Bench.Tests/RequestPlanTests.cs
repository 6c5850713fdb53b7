using System.Text.Json;
using AspirePerf.Bench.Sla;

namespace AspirePerf.Bench.Tests;

/// <summary>Parameters generated from the registry's schema: valid, reproducible for a seed, and drawn from a working set when asked.</summary>
public sealed class RequestPlanTests
{
    private static readonly IReadOnlyList<ParameterSchema> Schema =
    [
        new("from", "Date", false, null, null, null, null, new DateOnly(2015, 1, 1), new DateOnly(2025, 12, 31), null),
        new("to", "Date", false, null, null, null, null, new DateOnly(2015, 1, 1), new DateOnly(2025, 12, 31), null),
        new("sector", "Text", false, null, null, null, null, null, null, ["CON", "FIN"]),
        new("employerId", "Integer", true, null, JsonSerializer.SerializeToElement(100), 1, int.MaxValue, null, null, null),
        new("share", "Decimal", false, null, null, 0, 1, null, null, null),
        new("active", "Boolean", false, null, null, null, null, null, null, null),
    ];

    private static readonly Dictionary<string, IReadOnlyList<ParameterSchema>> Schemas = new() { ["query:q"] = Schema, ["analysis:a"] = Schema };

    [Fact]
    public void Generated_values_fit_their_types_ranges_allowed_values_and_from_to_order()
    {
        var random = new Random(7);
        for (var i = 0; i < 500; i++)
        {
            var values = RequestPlan.Generate(Schema, new Dictionary<string, ParameterOverride>(), random).ToDictionary(v => v.Name, v => v.Value);

            Assert.InRange(long.Parse(values["employerId"], System.Globalization.CultureInfo.InvariantCulture), 1, 10_001); // required: always there
            if (values.TryGetValue("sector", out var sector))
            {
                Assert.Contains(sector, new[] { "CON", "FIN" });
            }
            if (values.TryGetValue("share", out var share))
            {
                Assert.InRange(decimal.Parse(share, System.Globalization.CultureInfo.InvariantCulture), 0m, 1m);
            }
            // An optional pair comes whole or not at all: one end alone would meet the other's default.
            Assert.Equal(values.ContainsKey("from"), values.ContainsKey("to"));
            if (values.TryGetValue("from", out var from) && values.TryGetValue("to", out var to))
            {
                Assert.True(string.CompareOrdinal(from, to) <= 0, $"{from} > {to}");
            }
        }
    }

    [Fact]
    public void Overrides_narrow_fix_or_omit_parameters()
    {
        var overrides = new Dictionary<string, ParameterOverride>
        {
            ["employerId"] = new() { Min = "5", Max = "6" },
            ["sector"] = new() { Values = ["FIN"] },
            ["from"] = new() { Omit = true },
            ["to"] = new() { Min = "2020-02-02", Max = "2020-02-02" },
        };
        var random = new Random(1);
        for (var i = 0; i < 100; i++)
        {
            var values = RequestPlan.Generate(Schema, overrides, random).ToDictionary(v => v.Name, v => v.Value);
            Assert.Contains(values["employerId"], new[] { "5", "6" });
            Assert.Equal("FIN", values["sector"]);
            Assert.Equal("2020-02-02", values["to"]);
            Assert.False(values.ContainsKey("from"));
        }
    }

    [Fact]
    public void The_same_seed_sends_the_same_requests_and_a_working_set_holds_at_most_its_cardinality()
    {
        var scenario = new SlaScenario("s")
        {
            Requests =
            [
                new SlaRequest("cached") { Query = "q", Weight = 3, Cardinality = 5 },
                new SlaRequest("fresh") { Analysis = "a", Weight = 1 },
                new SlaRequest("fixed") { Path = "/api/v1/queries", Weight = 1 },
            ],
        };
        List<(string Name, string Url)> Draw(int seed)
        {
            var plan = new RequestPlan(scenario, Schemas, seed);
            var random = new Random(seed);
            return [.. Enumerable.Range(0, 1000).Select(_ => plan.Next(random))];
        }

        var first = Draw(42);

        Assert.Equal(first, Draw(42));
        Assert.NotEqual(first, Draw(43));
        Assert.InRange(first.Where(r => r.Name == "cached").Select(r => r.Url).Distinct().Count(), 2, 5);
        Assert.True(first.Where(r => r.Name == "fresh").Select(r => r.Url).Distinct().Count() > 100);
        Assert.All(first.Where(r => r.Name == "cached"), r => Assert.StartsWith("/api/v1/queries/q?", r.Url, StringComparison.Ordinal));
        Assert.All(first.Where(r => r.Name == "fresh"), r => Assert.StartsWith("/api/v1/analyses/a?", r.Url, StringComparison.Ordinal));
        // Weights 3 : 1 : 1 over 1,000 draws.
        Assert.InRange(first.Count(r => r.Name == "cached"), 540, 660);
        Assert.InRange(first.Count(r => r.Name == "fixed"), 150, 250);
    }

    [Fact]
    public void A_scenario_naming_something_the_api_lacks_fails_with_its_name()
    {
        var scenario = new SlaScenario("s") { Requests = [new SlaRequest("ghost") { Query = "no-such-query" }] };

        var error = Assert.Throws<InvalidDataException>(() => new RequestPlan(scenario, Schemas, 1));

        Assert.Contains("no-such-query", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_repositorys_scenario_file_loads_and_has_the_four_scenarios()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "sla-scenarios.json");

        var file = SlaScenarioFile.Load(path);

        Assert.Equal(["simple", "medium", "complex", "dashboard"], file.Scenarios.Select(s => s.Name));
        Assert.All(file.Scenarios, s => Assert.True(s.Targets.ContainsKey("p95")));
        Assert.Contains(file.Scenarios, s => s.Model == LoadModel.Closed);
        Assert.Contains(file.Scenarios, s => s.Model == LoadModel.Open);
    }
}
