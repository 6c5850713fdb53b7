using System.Globalization;
using AspirePerf.Performance.Database.Queries;

namespace AspirePerf.Performance.Orchestration;

/// <summary>Validation of an analysis graph, and how a query step's parameters are made from its inputs.</summary>
public static class AnalysisGraph
{
    /// <summary>Every problem in <paramref name="analysis"/>, each naming the analysis and the step; empty when it is sound.</summary>
    public static IReadOnlyList<string> Validate(AnalysisDefinition analysis, QueryRegistry queries)
    {
        ArgumentNullException.ThrowIfNull(analysis);
        ArgumentNullException.ThrowIfNull(queries);
        var problems = new List<string>();
        void Problem(AnalysisStep step, string what) => problems.Add($"analysis '{analysis.Id}', step '{step.Id}': {what}");

        if (analysis.Steps.Count == 0)
        {
            problems.Add($"analysis '{analysis.Id}' has no steps");
        }
        foreach (var group in analysis.Steps.GroupBy(s => s.Id, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            problems.Add($"analysis '{analysis.Id}': step '{group.Key}' is declared {group.Count()} times");
        }
        var steps = analysis.Steps.GroupBy(s => s.Id, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var parameters = analysis.Parameters.ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);

        foreach (var step in analysis.Steps)
        {
            foreach (var unknown in step.DependsOn.Where(d => !steps.ContainsKey(d)))
            {
                Problem(step, $"depends on unknown step '{unknown}'");
            }
            if (step.IsQuery == (step.Synthesis is not null))
            {
                Problem(step, "must name either a query or a synthesis, not both or neither");
                continue;
            }
            if (!step.IsQuery)
            {
                if (step.Inputs.Count > 0)
                {
                    Problem(step, "a synthesis takes no inputs: it reads the outputs of the steps it runs after");
                }
                if (!step.After.Any())
                {
                    Problem(step, "a synthesis must run after at least one step");
                }
                continue;
            }
            if (queries.Find(step.QueryId!) is not { } query)
            {
                Problem(step, $"unknown query '{step.QueryId}'");
                continue;
            }
            if (query.Keyset is not null)
            {
                Problem(step, $"query '{query.Id}' is a listing; a step reads an aggregate or a point lookup");
            }
            foreach (var (name, input) in step.Inputs)
            {
                if (query.Parameters.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)) is not { } target)
                {
                    Problem(step, $"maps '{name}', which query '{query.Id}' does not have (it has: {string.Join(", ", query.Parameters.Select(p => p.Name))})");
                    continue;
                }
                var source = input switch
                {
                    ParameterInput p => parameters.TryGetValue(p.Name, out var own)
                        ? (own.Type, $"analysis parameter '{p.Name}'")
                        : ((QueryParameterType?)null, $"unknown analysis parameter '{p.Name}'"),
                    ConstantInput c => (TypeOf(c.Value), $"constant {c.Value}"),
                    UpstreamInput u when steps.TryGetValue(u.Step, out var upstream) => ColumnSource(upstream, u, queries),
                    UpstreamInput u => (null, $"unknown step '{u.Step}'"),
                    _ => (null, "an unknown kind of input"),
                };
                if (source.Item1 is null)
                {
                    Problem(step, $"parameter '{name}' is mapped from {source.Item2}");
                }
                else if (source.Item1 != target.Type)
                {
                    Problem(step, $"parameter '{name}' is {target.Type} but is mapped from {source.Item2}, which is {source.Item1}");
                }
            }
            foreach (var missing in query.Parameters.Where(p => p.Required && p.Default is null
                && !step.Inputs.Keys.Any(k => string.Equals(k, p.Name, StringComparison.OrdinalIgnoreCase))))
            {
                Problem(step, $"required parameter '{missing.Name}' of query '{query.Id}' is not mapped");
            }
        }

        if (Cycle(analysis.Steps, steps) is { } cycle)
        {
            problems.Add($"analysis '{analysis.Id}' has a cycle: {string.Join(" → ", cycle)}");
        }
        return problems;
    }

    private static (QueryParameterType?, string) ColumnSource(AnalysisStep upstream, UpstreamInput input, QueryRegistry queries)
    {
        var columns = upstream.IsQuery ? queries.Find(upstream.QueryId!)?.Columns ?? [] : upstream.Columns;
        var column = columns.FirstOrDefault(c => string.Equals(c.Name, input.Column, StringComparison.Ordinal));
        return column is null
            ? (null, $"column '{input.Column}' of step '{input.Step}', which has no such column (it has: {string.Join(", ", columns.Select(c => c.Name))})")
            : (ParameterType(column.Type), $"column '{input.Column}' of step '{input.Step}'");
    }

    /// <summary>The parameter type a result column's values have.</summary>
    public static QueryParameterType? ParameterType(string columnType) => columnType switch
    {
        "integer" => QueryParameterType.Integer,
        "number" => QueryParameterType.Decimal,
        "text" => QueryParameterType.Text,
        "date" => QueryParameterType.Date,
        "boolean" => QueryParameterType.Boolean,
        _ => null,
    };

    private static QueryParameterType? TypeOf(object value) => value switch
    {
        long or int => QueryParameterType.Integer,
        decimal => QueryParameterType.Decimal,
        string => QueryParameterType.Text,
        DateOnly => QueryParameterType.Date,
        bool => QueryParameterType.Boolean,
        _ => null,
    };

    /// <summary>A cycle's step ids (first repeated at the end), or null.</summary>
    private static List<string>? Cycle(IReadOnlyList<AnalysisStep> all, Dictionary<string, AnalysisStep> steps)
    {
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1 on the current path, 2 done
        var path = new List<string>();
        List<string>? Visit(string id)
        {
            if (state.GetValueOrDefault(id) == 2 || !steps.TryGetValue(id, out var step))
            {
                return null;
            }
            if (state.GetValueOrDefault(id) == 1)
            {
                return [.. path.Skip(path.IndexOf(id)), id];
            }
            state[id] = 1;
            path.Add(id);
            foreach (var dependency in step.DependsOn)
            {
                if (Visit(dependency) is { } found)
                {
                    return found;
                }
            }
            path.RemoveAt(path.Count - 1);
            state[id] = 2;
            return null;
        }
        return all.Select(s => Visit(s.Id)).FirstOrDefault(c => c is not null);
    }

    /// <summary>
    /// A query step's parameters as a query string would carry them (invariant text), from the analysis's values and
    /// the upstream outputs; bound by the query's own binder, so a step is exactly the query API's request with these
    /// values (same validation, same cache key).
    /// </summary>
    /// <exception cref="StepInputException">An upstream output has no row, or a null, where a value is needed.</exception>
    public static Dictionary<string, string> RawInputs(AnalysisStep step, BoundParameters parameters, IReadOnlyDictionary<string, StepOutput> outputs)
    {
        ArgumentNullException.ThrowIfNull(step);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(outputs);
        var raw = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, input) in step.Inputs)
        {
            var value = input switch
            {
                ParameterInput p => parameters.Values.GetValueOrDefault(p.Name),
                ConstantInput c => c.Value,
                UpstreamInput u => outputs[u.Step].Rows is [var first, ..]
                    ? first[outputs[u.Step].Ordinal(u.Column)] ?? throw new StepInputException($"'{u.Column}' of step '{u.Step}' is null in its first row.")
                    : throw new StepInputException($"Step '{u.Step}' returned no rows, so '{name}' has no value."),
                _ => null,
            };
            if (value is not null)
            {
                raw[name] = Format(value);
            }
        }
        return raw;
    }

    public static string Format(object value) => value switch
    {
        DateOnly date => date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        bool flag => flag ? "true" : "false",
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>Binds raw step inputs with the query's own binder; its errors become a <see cref="StepInputException"/>.</summary>
    public static BoundParameters BindQuery(QueryDefinition query, IReadOnlyDictionary<string, string> raw)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(raw);
        var (bound, errors) = QueryParameterBinder.Bind(query, raw.Select(r => new KeyValuePair<string, IReadOnlyList<string?>>(r.Key, [r.Value])));
        return bound ?? throw new StepInputException($"Query '{query.Id}' refused the step's parameters: " +
            string.Join("; ", errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")));
    }
}

/// <summary>A step's inputs could not be made (an upstream value missing or out of the query's range): the step fails.</summary>
public sealed class StepInputException(string message) : Exception(message);
