using System.Globalization;
using AspirePerf.Performance.Database.Queries;

namespace AspirePerf.Performance.Orchestration;

/// <summary>
/// An analysis: a directed acyclic graph of steps over registered queries, with a parameter schema of its own (the
/// same vocabulary as a query's). Declared in code; <see cref="AnalysisRegistry"/> validates every graph at start.
/// </summary>
public sealed record AnalysisDefinition(string Id, string Title, string Description)
{
    public IReadOnlyList<QueryParameter> Parameters { get; init; } = [];

    public IReadOnlyList<QueryRule> Rules { get; init; } = [];

    public IReadOnlyList<AnalysisStep> Steps { get; init; } = [];
}

/// <summary>
/// One step: either a registered query (<see cref="QueryId"/>) whose parameters come from <see cref="Inputs"/>, or a
/// synthesis (<see cref="Synthesis"/>) computed in memory from the outputs of the steps it runs <see cref="After"/>.
/// A step depends on every step its inputs read and every step in <see cref="After"/>.
/// </summary>
public sealed record AnalysisStep(string Id, string Title)
{
    public string? QueryId { get; init; }

    /// <summary>The query's parameters by name; a query parameter left out takes its default.</summary>
    public IReadOnlyDictionary<string, StepInput> Inputs { get; init; } = new Dictionary<string, StepInput>();

    public Func<SynthesisContext, StepOutput>? Synthesis { get; init; }

    /// <summary>A synthesis's result columns (a query step's are the query's).</summary>
    public IReadOnlyList<QueryColumn> Columns { get; init; } = [];

    /// <summary>Steps this one waits for besides those its inputs read.</summary>
    public IReadOnlyList<string> After { get; init; } = [];

    /// <summary>Null: <see cref="OrchestrationOptions.StepTimeout"/>.</summary>
    public TimeSpan? Timeout { get; init; }

    public bool IsQuery => QueryId is not null;

    public IEnumerable<string> DependsOn => After.Concat(Inputs.Values.OfType<UpstreamInput>().Select(i => i.Step)).Distinct(StringComparer.Ordinal);
}

/// <summary>Where a query step's parameter value comes from.</summary>
public abstract record StepInput
{
    /// <summary>The analysis's own parameter of that name (same type).</summary>
    public static StepInput Parameter(string name) => new ParameterInput(name);

    /// <summary>A fixed value (long, decimal, string, DateOnly or bool).</summary>
    public static StepInput Constant(object value) => new ConstantInput(value);

    /// <summary>
    /// The value of <paramref name="column"/> in the first row of an upstream step's output (so that step orders its
    /// rows with the wanted one first). No row or a null value fails the step, and so skips its dependents.
    /// </summary>
    public static StepInput FromStep(string step, string column) => new UpstreamInput(step, column);
}

public sealed record ParameterInput(string Name) : StepInput;

public sealed record ConstantInput(object Value) : StepInput;

public sealed record UpstreamInput(string Step, string Column) : StepInput;

/// <summary>
/// A step's output: columns and rows with values normalized to long, decimal, string, DateOnly, bool or null by the
/// column's type (integer, number, text, date, boolean), whichever way it was computed or delivered.
/// </summary>
public sealed record StepOutput(IReadOnlyList<QueryColumn> Columns, IReadOnlyList<object?[]> Rows)
{
    public int Ordinal(string column)
    {
        for (var i = 0; i < Columns.Count; i++)
        {
            if (string.Equals(Columns[i].Name, column, StringComparison.Ordinal))
            {
                return i;
            }
        }
        throw new ArgumentException($"No column '{column}' (has: {string.Join(", ", Columns.Select(c => c.Name))}).", nameof(column));
    }

    public T? Value<T>(object?[] row, string column)
    {
        ArgumentNullException.ThrowIfNull(row);
        return row[Ordinal(column)] is T value ? value : default;
    }

    /// <summary>The rows whose <paramref name="column"/> equals <paramref name="value"/>.</summary>
    public IEnumerable<object?[]> Where(string column, object value)
    {
        var ordinal = Ordinal(column);
        return Rows.Where(r => Equals(r[ordinal], value));
    }

    /// <summary>Converts a value to the CLR type its column type maps to (JSON numbers, Int32 and double included).</summary>
    public static object? Normalize(object? value, string columnType) => value switch
    {
        null => null,
        System.Text.Json.JsonElement json => json.ValueKind == System.Text.Json.JsonValueKind.Null ? null : columnType switch
        {
            "integer" => json.GetInt64(),
            "number" => json.GetDecimal(),
            "boolean" => json.GetBoolean(),
            "date" => DateOnly.ParseExact(json.GetString()!, "yyyy-MM-dd", CultureInfo.InvariantCulture),
            _ => json.ValueKind == System.Text.Json.JsonValueKind.String ? json.GetString() : json.GetRawText(),
        },
        _ => columnType switch
        {
            "integer" => Convert.ToInt64(value, CultureInfo.InvariantCulture),
            "number" => Convert.ToDecimal(value, CultureInfo.InvariantCulture),
            "boolean" => Convert.ToBoolean(value, CultureInfo.InvariantCulture),
            "date" => value is DateOnly date ? date : DateOnly.FromDateTime(Convert.ToDateTime(value, CultureInfo.InvariantCulture)),
            _ => Convert.ToString(value, CultureInfo.InvariantCulture),
        },
    };

    /// <summary>Rows of raw values (from a reader or from JSON) normalized by <paramref name="columns"/>.</summary>
    public static StepOutput From(IReadOnlyList<QueryColumn> columns, IEnumerable<IReadOnlyList<object?>> rows)
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(rows);
        return new StepOutput(columns, [.. rows.Select(row =>
        {
            var values = new object?[columns.Count];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = Normalize(row[i], columns[i].Type);
            }
            return values;
        })]);
    }
}

/// <summary>What a synthesis sees: the analysis's parameters and the outputs of the steps it depends on.</summary>
public sealed class SynthesisContext(BoundParameters parameters, IReadOnlyDictionary<string, StepOutput> outputs)
{
    public BoundParameters Parameters { get; } = parameters;

    /// <summary>An upstream step's output; only steps this synthesis depends on are visible.</summary>
    public StepOutput Output(string step) => outputs.TryGetValue(step, out var output)
        ? output
        : throw new InvalidOperationException($"Step '{step}' is not a dependency of this synthesis.");
}

/// <summary>Graphs that fail validation: every problem, each naming the analysis, the step and what is wrong.</summary>
public sealed class AnalysisGraphException(IReadOnlyList<string> problems)
    : Exception("Invalid analysis graphs:\n- " + string.Join("\n- ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}

/// <summary>The registered analyses by id, each validated against the query registry when this is built (at start).</summary>
public sealed class AnalysisRegistry
{
    private readonly Dictionary<string, AnalysisDefinition> _byId;

    /// <exception cref="AnalysisGraphException">A graph has a cycle, an unknown step or query, or an unmapped or mistyped parameter.</exception>
    public AnalysisRegistry(IEnumerable<AnalysisDefinition> definitions, QueryRegistry queries)
    {
        ArgumentNullException.ThrowIfNull(definitions);
        ArgumentNullException.ThrowIfNull(queries);
        All = [.. definitions];
        var problems = All.GroupBy(a => a.Id, StringComparer.Ordinal).Where(g => g.Count() > 1)
            .Select(g => $"analysis '{g.Key}' is declared {g.Count()} times").ToList();
        problems.AddRange(All.SelectMany(a => AnalysisGraph.Validate(a, queries)));
        if (problems.Count > 0)
        {
            throw new AnalysisGraphException(problems);
        }
        _byId = All.GroupBy(a => a.Id, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
    }

    public IReadOnlyList<AnalysisDefinition> All { get; }

    public AnalysisDefinition? Find(string id) => _byId.GetValueOrDefault(id);
}
