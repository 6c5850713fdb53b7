using AspirePerf.Performance.Database.Queries;
using AspirePerf.Workforce.Seeding;

namespace AspirePerf.Workforce.Queries;

/// <summary>
/// The registered analytics queries over the workforce schema. "Active at a date" means a spell that started on or
/// before it and had not ended before it. Every value comes in as a typed parameter; none is spliced into SQL.
/// </summary>
public static class WorkforceQueries
{
    private const string ActiveAt = "es.start_date <= @asOf AND (es.end_date IS NULL OR es.end_date >= @asOf)";

    private static QueryParameter AsOf => new("asOf", QueryParameterType.Date, "The day the snapshot is taken.")
    {
        Default = new DateOnly(2025, 6, 30),
        MinimumDate = ReferenceData.FirstDay,
        MaximumDate = ReferenceData.LastDay,
    };

    /// <summary>A date within the data's span (the analyses declare theirs with it too).</summary>
    internal static QueryParameter Date(string name, DateOnly @default, string description) => new(name, QueryParameterType.Date, description)
    {
        Default = @default,
        MinimumDate = ReferenceData.FirstDay,
        MaximumDate = ReferenceData.LastDay,
    };

    /// <summary>A year within the data's span.</summary>
    internal static QueryParameter Year(string name, int @default, string description) => new(name, QueryParameterType.Integer, description)
    {
        Default = (long)@default,
        Minimum = ReferenceData.FirstDay.Year,
        Maximum = ReferenceData.LastDay.Year,
    };

    private static QueryParameter Sector => new("sector", QueryParameterType.Text, "Restrict to one sector (code); all sectors when omitted.")
    {
        AllowedValues = ReferenceData.SectorCodes,
        MaxLength = 3,
    };

    private static QueryParameter EmployerId => new("employerId", QueryParameterType.Integer, "The employer's id.")
    {
        Required = true,
        Minimum = 1,
        Maximum = int.MaxValue,
        // The employer of the median employee at the default scale (1,299 spells; employer 1, the largest, has 34,046).
        Example = 100L,
    };

    private static QueryRule DateOrder(string from, string to) =>
        new(to, $"Must not be before '{from}'.", p => p.Get<DateOnly>(from) <= p.Get<DateOnly>(to));

    private static QueryRule YearOrder(string from, string to) =>
        new(to, $"Must not be before '{from}'.", p => p.Get<long>(from) <= p.Get<long>(to));

    private static QueryColumn Integer(string name) => new(name, "integer");

    private static QueryColumn Number(string name) => new(name, "number");

    private static QueryColumn Text(string name) => new(name, "text");

    private static QueryColumn Day(string name) => new(name, "date");

    public static IReadOnlyList<QueryDefinition> All { get; } =
    [
        // Quarters counted as integers (an exact row estimate; the date form is assumed to give 1000 rows, which made an
        // index on start_date look 55 % cheaper while it made the query 5× slower) and MATERIALIZED: computed once per
        // quarter, not once per (quarter, spell) pair inside the join filter (3.8 → 1.1 s).
        new("employment-by-sector-quarter", "Employment by sector and quarter",
            "Headcount at each quarter end by sector: spells active on the quarter's last day.",
            QueryKind.Aggregate,
            """
            WITH quarters AS MATERIALIZED (
              SELECT (date_trunc('quarter', @from::date) + make_interval(months => 3 * (g.i + 1)) - interval '1 day')::date AS quarter_end
              FROM generate_series(0, ((extract(year FROM @to::date) - extract(year FROM @from::date)) * 4
                                       + extract(quarter FROM @to::date) - extract(quarter FROM @from::date))::int) AS g(i)
            )
            SELECT q.quarter_end AS quarter, s.code AS sector, count(*) AS headcount
            FROM quarters q
            JOIN employment_spells es ON es.start_date <= q.quarter_end AND (es.end_date IS NULL OR es.end_date >= q.quarter_end)
            JOIN employers e ON e.id = es.employer_id
            JOIN sectors s ON s.id = e.sector_id
            WHERE @sector IS NULL OR s.code = @sector
            GROUP BY q.quarter_end, s.code
            ORDER BY q.quarter_end, s.code
            """)
        {
            Parameters = [Date("from", new(2023, 1, 1), "First quarter (any day in it)."), Date("to", new(2025, 12, 31), "Last quarter (any day in it)."), Sector],
            Rules = [DateOrder("from", "to")],
            Columns = [Day("quarter"), Text("sector"), Integer("headcount")],
            Tables = ["employment_spells", "employers", "sectors"],
        },
        new("wage-percentiles", "Wage percentiles by occupation group and sector",
            "p10, median and p90 of monthly wages of spells active at a date, by sector and ISCO major group.",
            QueryKind.Aggregate,
            $"""
            SELECT s.code AS sector, o.major_group AS occupation_group, count(*) AS employees,
              round(percentile_cont(0.1) WITHIN GROUP (ORDER BY es.monthly_wage)::numeric, 2) AS p10,
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY es.monthly_wage)::numeric, 2) AS p50,
              round(percentile_cont(0.9) WITHIN GROUP (ORDER BY es.monthly_wage)::numeric, 2) AS p90
            FROM employment_spells es
            JOIN employers e ON e.id = es.employer_id
            JOIN sectors s ON s.id = e.sector_id
            JOIN occupations o ON o.id = es.occupation_id
            WHERE {ActiveAt} AND (@sector IS NULL OR s.code = @sector)
            GROUP BY s.code, o.major_group
            HAVING count(*) >= @minEmployees
            ORDER BY s.code, o.major_group
            """)
        {
            Parameters = [AsOf, Sector, new("minEmployees", QueryParameterType.Integer, "Groups smaller than this are left out.") { Default = 10L, Minimum = 1, Maximum = 1_000_000 }],
            Columns = [Text("sector"), Integer("occupation_group"), Integer("employees"), Number("p10"), Number("p50"), Number("p90")],
            Tables = ["employment_spells", "employers", "sectors", "occupations"],
        },
        new("nationalization-share", "Nationalization share by sector",
            "Citizens among the employees of each sector at a date.",
            QueryKind.Aggregate,
            $"""
            SELECT s.code AS sector, count(*) AS employees,
              count(*) FILTER (WHERE p.nationality_group = 'citizen') AS citizens,
              round(count(*) FILTER (WHERE p.nationality_group = 'citizen')::numeric / count(*), 4) AS citizen_share
            FROM employment_spells es
            JOIN persons p ON p.id = es.person_id
            JOIN employers e ON e.id = es.employer_id
            JOIN sectors s ON s.id = e.sector_id
            WHERE {ActiveAt}
            GROUP BY s.code
            ORDER BY citizen_share DESC, s.code
            """)
        {
            Parameters = [AsOf],
            Columns = [Text("sector"), Integer("employees"), Integer("citizens"), Number("citizen_share")],
            Tables = ["employment_spells", "persons", "employers", "sectors"],
        },
        new("vacancy-time-to-fill", "Vacancy time-to-fill by occupation",
            "Vacancies posted in a year range: how many were filled and how many days filling took (mean and median).",
            QueryKind.Aggregate,
            """
            SELECT o.code AS occupation_code, o.title AS occupation, count(*) AS vacancies, count(v.filled_date) AS filled,
              round(avg(v.filled_date - v.posted_date), 1) AS avg_days,
              round((percentile_cont(0.5) WITHIN GROUP (ORDER BY v.filled_date - v.posted_date))::numeric, 1) AS median_days
            FROM vacancies v
            JOIN occupations o ON o.id = v.occupation_id
            WHERE v.posted_date >= make_date(@fromYear::int, 1, 1) AND v.posted_date < make_date(@toYear::int + 1, 1, 1)
            GROUP BY o.code, o.title
            ORDER BY median_days DESC NULLS LAST, o.code
            """)
        {
            Parameters = [Year("fromYear", 2023, "First posting year."), Year("toYear", 2025, "Last posting year.")],
            Rules = [YearOrder("fromYear", "toYear")],
            Columns = [Text("occupation_code"), Text("occupation"), Integer("vacancies"), Integer("filled"), Number("avg_days"), Number("median_days")],
            Tables = ["vacancies", "occupations"],
        },
        new("turnover-by-sector-year", "Turnover by sector and year",
            "Hires, separations and the separation rate against mid-year headcount, by sector and year.",
            QueryKind.Aggregate,
            """
            WITH counts AS (
              SELECT s.code AS sector, y.year,
                count(*) FILTER (WHERE es.start_date >= make_date(y.year, 1, 1)) AS hires,
                count(*) FILTER (WHERE es.end_date <= make_date(y.year, 12, 31)) AS separations,
                count(*) FILTER (WHERE es.start_date <= make_date(y.year, 7, 1) AND (es.end_date IS NULL OR es.end_date >= make_date(y.year, 7, 1))) AS midyear_headcount
              FROM employment_spells es
              -- Each spell once per year of the range it overlaps: one scan of the spells (parallel-capable), where a
              -- join of the years to the spells on the overlap ran as a serial nested loop over every spell per year.
              CROSS JOIN LATERAL generate_series(
                greatest(@fromYear::int, extract(year FROM es.start_date)::int),
                least(@toYear::int, coalesce(extract(year FROM es.end_date)::int, @toYear::int))) AS y(year)
              JOIN employers e ON e.id = es.employer_id
              JOIN sectors s ON s.id = e.sector_id
              WHERE es.start_date <= make_date(@toYear::int, 12, 31) AND (es.end_date IS NULL OR es.end_date >= make_date(@fromYear::int, 1, 1))
              GROUP BY s.code, y.year
            )
            SELECT sector, year, hires, separations, midyear_headcount,
              round(separations::numeric / nullif(midyear_headcount, 0), 4) AS turnover_rate
            FROM counts
            ORDER BY sector, year
            """)
        {
            Parameters = [Year("fromYear", 2021, "First year."), Year("toYear", 2025, "Last year.")],
            Rules = [YearOrder("fromYear", "toYear")],
            Columns = [Text("sector"), Integer("year"), Integer("hires"), Integer("separations"), Integer("midyear_headcount"), Number("turnover_rate")],
            Tables = ["employment_spells", "employers", "sectors"],
            // The planner guesses the per-spell generate_series at 1,000 rows (it yields 1–5), so the estimated cost
            // passes every JIT threshold: the compile took ~300 ms per process of a 0.5–0.8 s query (docs/benchmarks.md).
            Jit = false,
        },
        new("gender-wage-gap", "Gender wage gap by occupation",
            "Median monthly wage of women and men in each occupation at a date, and the gap as a share of men's median.",
            QueryKind.Aggregate,
            $"""
            WITH medians AS (
              SELECT o.code AS occupation_code, o.title AS occupation,
                count(*) FILTER (WHERE p.gender = 'female') AS women,
                count(*) FILTER (WHERE p.gender = 'male') AS men,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY es.monthly_wage) FILTER (WHERE p.gender = 'female') AS median_women,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY es.monthly_wage) FILTER (WHERE p.gender = 'male') AS median_men
              FROM employment_spells es
              JOIN persons p ON p.id = es.person_id
              JOIN occupations o ON o.id = es.occupation_id
              WHERE {ActiveAt}
              GROUP BY o.code, o.title
            )
            SELECT occupation_code, occupation, women, men,
              round(median_women::numeric, 2) AS median_wage_women,
              round(median_men::numeric, 2) AS median_wage_men,
              round(((1 - median_women / nullif(median_men, 0)) * 100)::numeric, 1) AS gap_pct
            FROM medians
            WHERE women >= @minGroupSize AND men >= @minGroupSize
            ORDER BY gap_pct DESC, occupation_code
            """)
        {
            Parameters = [AsOf, new("minGroupSize", QueryParameterType.Integer, "Occupations with fewer women or men than this are left out.") { Default = 5L, Minimum = 1, Maximum = 1_000_000 }],
            Columns = [Text("occupation_code"), Text("occupation"), Integer("women"), Integer("men"), Number("median_wage_women"), Number("median_wage_men"), Number("gap_pct")],
            Tables = ["employment_spells", "persons", "occupations"],
        },
        new("top-employers-by-growth", "Top employers by headcount growth",
            "Employers ranked by headcount change between two dates.",
            QueryKind.Aggregate,
            """
            WITH counts AS (
              SELECT es.employer_id,
                count(*) FILTER (WHERE es.start_date <= @from AND (es.end_date IS NULL OR es.end_date >= @from)) AS headcount_start,
                count(*) FILTER (WHERE es.start_date <= @to AND (es.end_date IS NULL OR es.end_date >= @to)) AS headcount_end
              FROM employment_spells es
              WHERE es.start_date <= @to AND (es.end_date IS NULL OR es.end_date >= @from)
              GROUP BY es.employer_id
            )
            SELECT e.id AS employer_id, e.name AS employer, s.code AS sector, c.headcount_start, c.headcount_end,
              c.headcount_end - c.headcount_start AS growth,
              round(100.0 * (c.headcount_end - c.headcount_start) / nullif(c.headcount_start, 0), 1) AS growth_pct
            FROM counts c
            JOIN employers e ON e.id = c.employer_id
            JOIN sectors s ON s.id = e.sector_id
            WHERE (@sector IS NULL OR s.code = @sector) AND c.headcount_start >= @minHeadcount
            ORDER BY growth DESC, e.id
            LIMIT @limit
            """)
        {
            Parameters =
            [
                Date("from", new(2024, 1, 1), "Start of the period."), Date("to", new(2025, 12, 31), "End of the period."), Sector,
                new("minHeadcount", QueryParameterType.Integer, "Employers smaller than this at the start are left out.") { Default = 1L, Minimum = 0, Maximum = 1_000_000 },
                new("limit", QueryParameterType.Integer, "How many employers to return.") { Default = 20L, Minimum = 1, Maximum = 500 },
            ],
            Rules = [DateOrder("from", "to")],
            Columns = [Integer("employer_id"), Text("employer"), Text("sector"), Integer("headcount_start"), Integer("headcount_end"), Integer("growth"), Number("growth_pct")],
            Tables = ["employment_spells", "employers", "sectors"],
        },
        new("region-sector-heatmap", "Region × sector heatmap",
            "Headcount by region and sector at a date.",
            QueryKind.Aggregate,
            $"""
            SELECT r.code AS region, s.code AS sector, count(*) AS headcount
            FROM employment_spells es
            JOIN employers e ON e.id = es.employer_id
            JOIN regions r ON r.id = e.region_id
            JOIN sectors s ON s.id = e.sector_id
            WHERE {ActiveAt}
            GROUP BY r.code, s.code
            ORDER BY r.code, s.code
            """)
        {
            Parameters = [AsOf],
            Columns = [Text("region"), Text("sector"), Integer("headcount")],
            Tables = ["employment_spells", "employers", "regions", "sectors"],
        },
        // Months are counted as integers: PostgreSQL 15 estimates an integer generate_series exactly, but assumes 1000
        // rows for the date form, and that misestimate hid the by-employer index from the planner and the advisor.
        // MATERIALIZED computes each month end once, not once per (month, spell) pair in the join filter.
        new("employer-headcount-history", "One employer's headcount over time",
            "Headcount of one employer at every month end between two dates.",
            QueryKind.PointLookup,
            """
            WITH months AS MATERIALIZED (
              SELECT (date_trunc('month', @from::date) + make_interval(months => g.i + 1) - interval '1 day')::date AS month_end
              FROM generate_series(0, ((extract(year FROM @to::date) - extract(year FROM @from::date)) * 12
                                       + extract(month FROM @to::date) - extract(month FROM @from::date))::int) AS g(i)
            )
            SELECT m.month_end AS month, count(es.id) AS headcount
            FROM months m
            LEFT JOIN employment_spells es
              ON es.employer_id = @employerId AND es.start_date <= m.month_end AND (es.end_date IS NULL OR es.end_date >= m.month_end)
            GROUP BY m.month_end
            ORDER BY m.month_end
            """)
        {
            Parameters = [EmployerId, Date("from", new(2024, 1, 1), "First month (any day in it)."), Date("to", new(2025, 12, 31), "Last month (any day in it).")],
            Rules = [DateOrder("from", "to")],
            Columns = [Day("month"), Integer("headcount")],
            Tables = ["employment_spells"],
            CacheProfile = "point-lookup",
        },
        new("employer-profile", "Employer profile",
            "One employer's sector, region, size band, ownership and founding year.",
            QueryKind.PointLookup,
            """
            SELECT e.id AS employer_id, e.name AS employer, s.code AS sector, s.name AS sector_name,
              r.code AS region, r.name AS region_name, e.size_band, e.ownership, e.founded_year
            FROM employers e
            JOIN sectors s ON s.id = e.sector_id
            JOIN regions r ON r.id = e.region_id
            WHERE e.id = @employerId
            """)
        {
            Parameters = [EmployerId],
            Columns = [Integer("employer_id"), Text("employer"), Text("sector"), Text("sector_name"), Text("region"), Text("region_name"), Text("size_band"), Text("ownership"), Integer("founded_year")],
            Tables = ["employers", "sectors", "regions"],
            CacheProfile = "point-lookup",
            MaxRowCount = 1, // by primary key
        },
        new("workers-by-education", "Workers by education level",
            "Workers active at a date by education level and nationality group, with their mean wage.",
            QueryKind.Aggregate,
            $"""
            SELECT p.education, p.nationality_group, count(*) AS workers, round(avg(es.monthly_wage), 2) AS avg_wage
            FROM employment_spells es
            JOIN persons p ON p.id = es.person_id
            WHERE {ActiveAt}
            GROUP BY p.education, p.nationality_group
            ORDER BY array_position(ARRAY['none', 'secondary', 'diploma', 'bachelor', 'master', 'doctorate'], p.education), p.nationality_group
            """)
        {
            Parameters = [AsOf],
            Columns = [Text("education"), Text("nationality_group"), Integer("workers"), Number("avg_wage")],
            Tables = ["employment_spells", "persons"],
        },
        new("new-hires-per-month", "New hires per month",
            "Spells starting in each month between two dates, optionally in one sector.",
            QueryKind.Aggregate,
            """
            SELECT date_trunc('month', es.start_date)::date AS month, count(*) AS hires
            FROM employment_spells es
            JOIN employers e ON e.id = es.employer_id
            JOIN sectors s ON s.id = e.sector_id
            WHERE es.start_date BETWEEN @from AND @to AND (@sector IS NULL OR s.code = @sector)
            GROUP BY 1
            ORDER BY 1
            """)
        {
            Parameters = [Date("from", new(2024, 1, 1), "First day."), Date("to", new(2025, 12, 31), "Last day."), Sector],
            Rules = [DateOrder("from", "to")],
            Columns = [Day("month"), Integer("hires")],
            Tables = ["employment_spells", "employers", "sectors"],
        },
        // The row-heavy one: every spell at the default scale (1,000,000 rows). Its buffered answer comes in keyset pages
        // by spell id; GET /api/v1/queries/employment-spells/rows streams all of it.
        new("employment-spells", "Employment spells",
            "Spells that started between two dates, optionally in one sector, in spell id order: the rows behind every aggregate.",
            QueryKind.Listing,
            """
            SELECT es.id AS spell_id, es.person_id, es.employer_id, s.code AS sector, o.code AS occupation_code,
              es.contract_type, es.start_date, es.end_date, es.monthly_wage
            FROM employment_spells es
            JOIN employers e ON e.id = es.employer_id
            JOIN sectors s ON s.id = e.sector_id
            JOIN occupations o ON o.id = es.occupation_id
            WHERE es.start_date BETWEEN @from AND @to AND (@sector IS NULL OR s.code = @sector)
              AND (@after IS NULL OR es.id > @after)
            ORDER BY es.id
            """)
        {
            Parameters = [Date("from", ReferenceData.FirstDay, "First start day."), Date("to", ReferenceData.LastDay, "Last start day."), Sector],
            Rules = [DateOrder("from", "to")],
            Columns = [Integer("spell_id"), Integer("person_id"), Integer("employer_id"), Text("sector"), Text("occupation_code"),
                Text("contract_type"), Day("start_date"), Day("end_date"), Number("monthly_wage")],
            Tables = ["employment_spells", "employers", "sectors", "occupations"],
            Keyset = new("spell_id", "after"),
            CacheProfile = "point-lookup",
        },
        new("wage-histogram", "Wage histogram",
            "Workers active at a date by monthly-wage bucket; wages at or above the cap fall in the last bucket.",
            QueryKind.Aggregate,
            $"""
            SELECT floor(least(es.monthly_wage, @maxWage - 0.01) / @bucketWidth) * @bucketWidth AS bucket_from,
              floor(least(es.monthly_wage, @maxWage - 0.01) / @bucketWidth) * @bucketWidth + @bucketWidth AS bucket_to,
              count(*) AS workers
            FROM employment_spells es
            JOIN employers e ON e.id = es.employer_id
            JOIN sectors s ON s.id = e.sector_id
            WHERE {ActiveAt} AND (@sector IS NULL OR s.code = @sector)
            GROUP BY 1, 2
            ORDER BY 1
            """)
        {
            Parameters =
            [
                AsOf, Sector,
                new("bucketWidth", QueryParameterType.Integer, "Bucket width in currency units.") { Default = 1000L, Minimum = 100, Maximum = 10_000 },
                new("maxWage", QueryParameterType.Integer, "Wages at or above this fall in the last bucket.") { Default = 40_000L, Minimum = 1_000, Maximum = 1_000_000 },
            ],
            Rules = [new("maxWage", "Must be at least one bucket width.", p => p.Get<long>("maxWage") >= p.Get<long>("bucketWidth"))],
            Columns = [Number("bucket_from"), Number("bucket_to"), Integer("workers")],
            Tables = ["employment_spells", "employers", "sectors"],
        },
    ];
}
