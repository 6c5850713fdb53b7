using System.Collections.Frozen;
using System.Text.Json.Serialization;

namespace AspirePerf.Performance.Database.Queries;

/// <summary>The value types a registered query's parameters can have; each maps to one PostgreSQL type.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<QueryParameterType>))]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "The names are the API's type vocabulary.")]
public enum QueryParameterType
{
    Integer,
    Decimal,
    Text,
    Date,
    Boolean,
}

/// <summary>Point lookups read a handful of rows by key; aggregates scan and group whole tables; listings return rows in keyset pages.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<QueryKind>))]
public enum QueryKind
{
    PointLookup,
    Aggregate,
    Listing,
}

/// <summary>A typed, validated parameter of a registered query; referenced in its SQL as <c>@Name</c>.</summary>
public sealed record QueryParameter(string Name, QueryParameterType Type, string Description)
{
    public bool Required { get; init; }

    /// <summary>Used when the caller omits the parameter; null leaves an optional parameter unset (SQL NULL).</summary>
    public object? Default { get; init; }

    /// <summary>
    /// A representative value for a required parameter, used only by the performance layer when it replays or plans
    /// the query on its own (index advisor, slow-query plans), never for callers.
    /// </summary>
    public object? Example { get; init; }

    /// <summary>Inclusive bounds for Integer and Decimal parameters.</summary>
    public decimal? Minimum { get; init; }

    public decimal? Maximum { get; init; }

    /// <summary>Inclusive bounds for Date parameters.</summary>
    public DateOnly? MinimumDate { get; init; }

    public DateOnly? MaximumDate { get; init; }

    /// <summary>For Text parameters: the only accepted values (matched ignoring case, passed on as written here).</summary>
    public IReadOnlyList<string>? AllowedValues { get; init; }

    public int MaxLength { get; init; } = 100;
}

/// <summary>A result column: its name and one of integer, number, text, date, boolean.</summary>
public sealed record QueryColumn(string Name, string Type);

/// <summary>A rule across parameters (e.g. from ≤ to), reported against <paramref name="Parameter"/> when it fails.</summary>
public sealed record QueryRule(string Parameter, string Message, Func<BoundParameters, bool> Holds);

/// <summary>
/// A registered query: the only way SQL reaches the database from the API. Its SQL is parameterized and fixed;
/// callers choose a query by id and supply validated parameter values, never SQL text.
/// </summary>
public sealed record QueryDefinition(string Id, string Title, string Description, QueryKind Kind, string Sql)
{
    public IReadOnlyList<QueryParameter> Parameters { get; init; } = [];

    public IReadOnlyList<QueryColumn> Columns { get; init; } = [];

    /// <summary>The cache profile (content type) that decides how long and where results are cached.</summary>
    public string CacheProfile { get; init; } = "aggregate";

    /// <summary>Tables the query reads (cache tags and invalidation use these).</summary>
    public IReadOnlyList<string> Tables { get; init; } = [];

    public IReadOnlyList<QueryRule> Rules { get; init; } = [];

    /// <summary>
    /// The most rows the query can return by construction (a lookup by primary key: 1), when it has such a bound; the API
    /// description leaves out the "too many rows" answer for a query that cannot exceed Queries:MaxRows.
    /// </summary>
    public int? MaxRowCount { get; init; }

    /// <summary>
    /// PostgreSQL's JIT compilation for this query, set for its transaction only (<c>SET LOCAL jit</c>); null keeps the
    /// server's setting. The planner decides on JIT by estimated cost, so a query the planner overestimates can pay a
    /// compile (about 300 ms in the leader and in each parallel worker) it never earns back: such a query says false.
    /// </summary>
    public bool? Jit { get; init; }

    /// <summary>
    /// Set for queries that list rows (not aggregates): their buffered answers come in keyset pages and their SQL orders
    /// by this key and filters on its parameter (<c>@after IS NULL OR key &gt; @after</c>).
    /// </summary>
    public QueryKeyset? Keyset { get; init; }

    /// <summary>The SQL of one keyset page: the query's own SQL, which ends with its ORDER BY, limited.</summary>
    public string PagedSql => _pagedSql ??= Keyset is null ? Sql : Sql + "\nLIMIT @" + QueryKeyset.LimitParameter;

    private string? _pagedSql;
}

/// <summary>
/// A unique, non-null integer column the query orders by, and the parameter the SQL compares it with. The parameter is
/// not a caller's: its value comes from a verified page cursor (null for the first page).
/// </summary>
public sealed record QueryKeyset(string Column, string Parameter)
{
    /// <summary>The page size parameter (one more than the page, to tell whether another page follows).</summary>
    public const string LimitParameter = "page_limit";
}

/// <summary>Parameter values after validation, by parameter name (case-insensitive).</summary>
public sealed class BoundParameters(IReadOnlyDictionary<string, object?> values)
{
    // Made once per request and read a few times: a plain dictionary (freezing one costs more than every read saves).
    private readonly Dictionary<string, object?> _values = new(values, StringComparer.OrdinalIgnoreCase);

    public IReadOnlyDictionary<string, object?> Values => _values;

    public T? Get<T>(string name) => _values.TryGetValue(name, out var value) && value is T typed ? typed : default;
}

/// <summary>The registered queries by id.</summary>
public sealed class QueryRegistry
{
    private readonly FrozenDictionary<string, QueryDefinition> _byId;

    public QueryRegistry(IEnumerable<QueryDefinition> definitions)
    {
        ArgumentNullException.ThrowIfNull(definitions);
        All = [.. definitions];
        _byId = All.ToFrozenDictionary(d => d.Id, StringComparer.Ordinal);
    }

    public IReadOnlyList<QueryDefinition> All { get; }

    public QueryDefinition? Find(string id) => _byId.GetValueOrDefault(id);
}
