using AspirePerf.Performance.Database.Queries;
using AspirePerf.Performance.Orchestration;
using AspirePerf.Workforce.Queries;
using AspirePerf.Workforce.Seeding;

namespace AspirePerf.Workforce.Analyses;

/// <summary>
/// The registered analyses: graphs of the registered queries (docs/orchestration.md draws them). Each synthesis
/// answers with rows of (metric, value, text): a number in <c>value</c> or a name in <c>text</c>.
/// </summary>
public static class WorkforceAnalyses
{
    private static readonly QueryColumn[] Summary = [new("metric", "text"), new("value", "number"), new("text", "text")];

    private static QueryParameter Date(string name, DateOnly @default, string description) => WorkforceQueries.Date(name, @default, description);

    private static QueryParameter Year(string name, int @default, string description) => WorkforceQueries.Year(name, @default, description);

    private static QueryParameter AsOf => Date("asOf", new(2025, 6, 30), "The day snapshots are taken.");

    private static QueryParameter From => Date("from", new(2024, 1, 1), "Start of the period.");

    private static QueryParameter To => Date("to", new(2025, 12, 31), "End of the period.");

    private static QueryRule DateOrder => new("to", "Must not be before 'from'.", p => p.Get<DateOnly>("from") <= p.Get<DateOnly>("to"));

    private static QueryRule YearOrder => new("toYear", "Must not be before 'fromYear'.", p => p.Get<long>("fromYear") <= p.Get<long>("toYear"));

    private static StepInput P(string name) => StepInput.Parameter(name);

    private static AnalysisStep Query(string id, string title, string queryId, params (string Name, StepInput Input)[] inputs) => new(id, title)
    {
        QueryId = queryId,
        Inputs = inputs.ToDictionary(i => i.Name, i => i.Input, StringComparer.Ordinal),
    };

    private static AnalysisStep Synthesis(string id, string title, string[] after, Func<SynthesisContext, IEnumerable<object?[]>> rows) => new(id, title)
    {
        After = after,
        Columns = Summary,
        Synthesis = context => new StepOutput(Summary, [.. rows(context)]),
    };

    private static object?[] Metric(string name, decimal? value) => [name, value, null];

    private static object?[] Named(string name, string? text) => [name, null, text];

    public static IReadOnlyList<AnalysisDefinition> All { get; } =
    [
        new("sector-briefing", "Sector briefing",
            "One sector's headcount trend, wages, hiring, turnover against the other sectors, and its fastest-growing employer's history.")
        {
            Parameters =
            [
                new("sector", QueryParameterType.Text, "The sector (code).") { Required = true, AllowedValues = ReferenceData.SectorCodes, MaxLength = 3 },
                AsOf, From, To,
                Year("fromYear", 2021, "First year of the turnover comparison."), Year("toYear", 2025, "Last year of the turnover comparison."),
            ],
            Rules = [DateOrder, YearOrder],
            Steps =
            [
                Query("headcount", "Headcount by quarter", "employment-by-sector-quarter", ("from", P("from")), ("to", P("to")), ("sector", P("sector"))),
                Query("wages", "Wage percentiles", "wage-percentiles", ("asOf", P("asOf")), ("sector", P("sector"))),
                Query("hires", "Hires per month", "new-hires-per-month", ("from", P("from")), ("to", P("to")), ("sector", P("sector"))),
                Query("turnover", "Turnover of every sector", "turnover-by-sector-year", ("fromYear", P("fromYear")), ("toYear", P("toYear"))),
                Query("top-employers", "Fastest-growing employers", "top-employers-by-growth",
                    ("from", P("from")), ("to", P("to")), ("sector", P("sector")), ("limit", StepInput.Constant(5L))),
                Query("leader-history", "The fastest grower's headcount by month", "employer-headcount-history",
                    ("employerId", StepInput.FromStep("top-employers", "employer_id")), ("from", P("from")), ("to", P("to"))),
                Synthesis("briefing", "Briefing", ["headcount", "wages", "hires", "turnover", "top-employers", "leader-history"], SectorBriefing),
            ],
        },
        new("employer-profile", "Employer profile",
            "One employer against its own sector: who it is, how its headcount moved, where it ranks on growth, and the sector's wages and headcount.")
        {
            Parameters =
            [
                new("employerId", QueryParameterType.Integer, "The employer's id.") { Required = true, Minimum = 1, Maximum = int.MaxValue, Example = 100L },
                AsOf, From, To,
            ],
            Rules = [DateOrder],
            Steps =
            [
                Query("profile", "Employer", "employer-profile", ("employerId", P("employerId"))),
                Query("history", "Headcount by month", "employer-headcount-history", ("employerId", P("employerId")), ("from", P("from")), ("to", P("to"))),
                Query("sector-wages", "The sector's wage percentiles", "wage-percentiles",
                    ("asOf", P("asOf")), ("sector", StepInput.FromStep("profile", "sector")), ("minEmployees", StepInput.Constant(1L))),
                Query("sector-growth", "The sector's employers by growth", "top-employers-by-growth",
                    ("from", P("from")), ("to", P("to")), ("sector", StepInput.FromStep("profile", "sector")),
                    ("minHeadcount", StepInput.Constant(0L)), ("limit", StepInput.Constant(500L))),
                Query("sector-headcount", "The sector's headcount by quarter", "employment-by-sector-quarter",
                    ("from", P("from")), ("to", P("to")), ("sector", StepInput.FromStep("profile", "sector"))),
                Synthesis("summary", "Summary", ["profile", "history", "sector-wages", "sector-growth", "sector-headcount"], EmployerSummary),
            ],
        },
        new("wage-gap-study", "Wage-gap study",
            "Gender gaps by occupation beside wages by education and nationality, by sector and occupation group, and the wage distribution.")
        {
            Parameters =
            [
                AsOf,
                new("minGroupSize", QueryParameterType.Integer, "Occupations with fewer women or men than this are left out.") { Default = 5L, Minimum = 1, Maximum = 1_000_000 },
            ],
            Steps =
            [
                Query("gender-gap", "Gender gap by occupation", "gender-wage-gap", ("asOf", P("asOf")), ("minGroupSize", P("minGroupSize"))),
                Query("education", "Workers by education", "workers-by-education", ("asOf", P("asOf"))),
                Query("percentiles", "Wage percentiles", "wage-percentiles", ("asOf", P("asOf"))),
                Query("nationalization", "Nationalization share", "nationalization-share", ("asOf", P("asOf"))),
                Query("histogram", "Wage histogram", "wage-histogram", ("asOf", P("asOf"))),
                Synthesis("summary", "Summary", ["gender-gap", "education", "percentiles", "nationalization", "histogram"], WageGapSummary),
            ],
        },
        new("vacancy-pressure", "Vacancy pressure",
            "How hard hiring is: time to fill, turnover and hires, and the fastest-growing employer's trajectory and sector.")
        {
            Parameters =
            [
                Year("fromYear", 2023, "First year."), Year("toYear", 2025, "Last year."), From, To,
            ],
            Rules = [YearOrder, DateOrder],
            Steps =
            [
                Query("time-to-fill", "Vacancy time to fill", "vacancy-time-to-fill", ("fromYear", P("fromYear")), ("toYear", P("toYear"))),
                Query("turnover", "Turnover by sector", "turnover-by-sector-year", ("fromYear", P("fromYear")), ("toYear", P("toYear"))),
                Query("hires", "Hires per month", "new-hires-per-month", ("from", P("from")), ("to", P("to"))),
                Query("growth", "Fastest-growing employers", "top-employers-by-growth", ("from", P("from")), ("to", P("to")), ("limit", StepInput.Constant(10L))),
                Query("leader-profile", "The fastest grower", "employer-profile", ("employerId", StepInput.FromStep("growth", "employer_id"))),
                Query("leader-history", "The fastest grower's headcount by month", "employer-headcount-history",
                    ("employerId", StepInput.FromStep("growth", "employer_id")), ("from", P("from")), ("to", P("to"))),
                Query("leader-sector-hires", "Hires in the fastest grower's sector", "new-hires-per-month",
                    ("from", P("from")), ("to", P("to")), ("sector", StepInput.FromStep("leader-profile", "sector"))),
                Synthesis("pressure", "Pressure", ["time-to-fill", "turnover", "hires", "growth", "leader-profile", "leader-history", "leader-sector-hires"], VacancyPressure),
            ],
        },
    ];

    private static IEnumerable<object?[]> SectorBriefing(SynthesisContext c)
    {
        var sector = c.Parameters.Get<string>("sector");
        var headcount = c.Output("headcount");
        var (first, last) = FirstAndLast(headcount, "headcount");
        yield return Metric("headcount_first_quarter", first);
        yield return Metric("headcount_last_quarter", last);
        yield return Metric("headcount_change_pct", ChangePct(first, last));
        yield return Metric("median_wage_weighted", WeightedMedianOfMedians(c.Output("wages")));
        yield return Metric("hires", Sum(c.Output("hires"), "hires"));
        var turnover = c.Output("turnover");
        var lastYear = turnover.Rows.Select(r => turnover.Value<long>(r, "year")).DefaultIfEmpty().Max();
        var rates = turnover.Where("year", lastYear).Select(r => (Sector: turnover.Value<string>(r, "sector"), Rate: turnover.Value<decimal?>(r, "turnover_rate")))
            .Where(r => r.Rate is not null).OrderByDescending(r => r.Rate).ToList();
        var own = rates.FindIndex(r => r.Sector == sector);
        yield return Metric("turnover_rate_last_year", own < 0 ? null : rates[own].Rate);
        yield return Metric("turnover_rank_last_year", own < 0 ? null : own + 1);
        yield return Metric("sectors_compared", rates.Count);
        var top = c.Output("top-employers");
        yield return Named("fastest_grower", top.Rows is [var leader, ..] ? top.Value<string>(leader, "employer") : null);
        var (leaderFirst, leaderLast) = FirstAndLast(c.Output("leader-history"), "headcount");
        yield return Metric("fastest_grower_headcount_change_pct", ChangePct(leaderFirst, leaderLast));
    }

    private static IEnumerable<object?[]> EmployerSummary(SynthesisContext c)
    {
        var profile = c.Output("profile");
        var employer = profile.Rows[0];
        yield return Named("employer", profile.Value<string>(employer, "employer"));
        yield return Named("sector", profile.Value<string>(employer, "sector"));
        var (first, last) = FirstAndLast(c.Output("history"), "headcount");
        yield return Metric("headcount_first_month", first);
        yield return Metric("headcount_last_month", last);
        yield return Metric("headcount_change_pct", ChangePct(first, last));
        var growth = c.Output("sector-growth");
        var rank = growth.Rows.Select((r, i) => (Id: growth.Value<long>(r, "employer_id"), Rank: i + 1))
            .FirstOrDefault(r => r.Id == c.Parameters.Get<long>("employerId")).Rank;
        yield return Metric("growth_rank_in_sector", rank == 0 ? null : rank);
        yield return Metric("employers_ranked_in_sector", growth.Rows.Count);
        var (sectorFirst, sectorLast) = FirstAndLast(c.Output("sector-headcount"), "headcount");
        yield return Metric("sector_headcount_change_pct", ChangePct(sectorFirst, sectorLast));
        yield return Metric("sector_median_wage_weighted", WeightedMedianOfMedians(c.Output("sector-wages")));
    }

    private static IEnumerable<object?[]> WageGapSummary(SynthesisContext c)
    {
        var gaps = c.Output("gender-gap");
        var values = gaps.Rows.Select(r => gaps.Value<decimal?>(r, "gap_pct")).OfType<decimal>().Order().ToList();
        yield return Metric("occupations_compared", gaps.Rows.Count);
        yield return Metric("median_gap_pct", Median(values));
        yield return Metric("occupations_paying_men_more", values.Count(v => v > 0));
        yield return Named("widest_gap_occupation", gaps.Rows is [var widest, ..] ? gaps.Value<string>(widest, "occupation") : null);
        var education = c.Output("education");
        decimal? MeanWage(string group)
        {
            var rows = education.Where("nationality_group", group).ToList();
            var workers = rows.Sum(r => education.Value<long>(r, "workers"));
            return workers == 0 ? null : Math.Round(rows.Sum(r => education.Value<long>(r, "workers") * education.Value<decimal>(r, "avg_wage")) / workers, 2);
        }
        var (citizens, expatriates) = (MeanWage("citizen"), MeanWage("expatriate"));
        yield return Metric("mean_wage_citizens", citizens);
        yield return Metric("mean_wage_expatriates", expatriates);
        yield return Metric("citizen_to_expatriate_wage_ratio", citizens is { } a && expatriates is { } b && b > 0 ? Math.Round(a / b, 3) : null);
        var percentiles = c.Output("percentiles");
        var medians = percentiles.Rows.Select(r => percentiles.Value<decimal>(r, "p50")).ToList();
        yield return Metric("group_median_wage_spread", medians.Count == 0 ? null : medians.Max() - medians.Min());
        var nationalization = c.Output("nationalization");
        var employees = Sum(nationalization, "employees");
        yield return Metric("citizen_share_overall", employees == 0 ? null : Math.Round(Sum(nationalization, "citizens") / employees, 4));
        var histogram = c.Output("histogram");
        yield return Metric("workers_in_top_bucket", histogram.Rows is [.., var top] ? histogram.Value<long>(top, "workers") : null);
    }

    private static IEnumerable<object?[]> VacancyPressure(SynthesisContext c)
    {
        var fill = c.Output("time-to-fill");
        var vacancies = Sum(fill, "vacancies");
        yield return Metric("vacancies", vacancies);
        yield return Metric("fill_rate", vacancies == 0 ? null : Math.Round(Sum(fill, "filled") / vacancies, 4));
        yield return Named("slowest_to_fill_occupation", fill.Rows is [var slowest, ..] ? fill.Value<string>(slowest, "occupation") : null);
        var turnover = c.Output("turnover");
        var lastYear = turnover.Rows.Select(r => turnover.Value<long>(r, "year")).DefaultIfEmpty().Max();
        var lastRows = turnover.Where("year", lastYear).ToList();
        var midyear = lastRows.Sum(r => turnover.Value<long>(r, "midyear_headcount"));
        yield return Metric("turnover_rate_last_year", midyear == 0 ? null : Math.Round(lastRows.Sum(r => turnover.Value<long>(r, "separations")) / (decimal)midyear, 4));
        var hires = c.Output("hires");
        yield return Metric("hires", Sum(hires, "hires"));
        yield return Metric("hires_trend_pct", HalfOverHalf(hires, "hires"));
        var profile = c.Output("leader-profile");
        yield return Named("fastest_grower", profile.Value<string>(profile.Rows[0], "employer"));
        yield return Named("fastest_grower_sector", profile.Value<string>(profile.Rows[0], "sector"));
        var (first, last) = FirstAndLast(c.Output("leader-history"), "headcount");
        yield return Metric("fastest_grower_headcount_change_pct", ChangePct(first, last));
        yield return Metric("fastest_grower_sector_hires_trend_pct", HalfOverHalf(c.Output("leader-sector-hires"), "hires"));
    }

    private static (decimal? First, decimal? Last) FirstAndLast(StepOutput output, string column) => output.Rows.Count == 0
        ? (null, null)
        : (output.Value<long>(output.Rows[0], column), output.Value<long>(output.Rows[^1], column));

    private static decimal? ChangePct(decimal? first, decimal? last) =>
        first is > 0 && last is not null ? Math.Round((last.Value - first.Value) * 100 / first.Value, 1) : null;

    private static decimal Sum(StepOutput output, string column) =>
        output.Rows.Sum(r => output.Value<long>(r, column));

    /// <summary>Second half of the rows' total against the first half's, in percent (a trend over months).</summary>
    private static decimal? HalfOverHalf(StepOutput output, string column)
    {
        var values = output.Rows.Select(r => (decimal)output.Value<long>(r, column)).ToList();
        var half = values.Count / 2;
        return half == 0 ? null : ChangePct(values.Take(half).Sum(), values.Skip(values.Count - half).Sum());
    }

    private static decimal? Median(List<decimal> sorted) => sorted.Count == 0 ? null
        : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;

    /// <summary>The group medians' median, each group weighted by its employees (the medians of wage percentiles' groups).</summary>
    private static decimal? WeightedMedianOfMedians(StepOutput wages)
    {
        var groups = wages.Rows.Select(r => (Median: wages.Value<decimal>(r, "p50"), Weight: wages.Value<long>(r, "employees")))
            .OrderBy(g => g.Median).ToList();
        var total = groups.Sum(g => g.Weight);
        var seen = 0L;
        foreach (var (median, weight) in groups)
        {
            seen += weight;
            if (seen * 2 >= total)
            {
                return median;
            }
        }
        return null;
    }
}
