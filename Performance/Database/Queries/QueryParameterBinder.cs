using System.Globalization;

namespace AspirePerf.Performance.Database.Queries;

/// <summary>
/// Turns raw query-string values into typed parameter values, or into errors keyed by parameter name that say which
/// rule failed. Nothing unvalidated reaches SQL: unknown names are rejected, text is length-checked and, where the
/// parameter declares allowed values, replaced by the canonical value.
/// </summary>
public static class QueryParameterBinder
{
    public static (BoundParameters? Values, Dictionary<string, string[]> Errors) Bind(
        QueryDefinition query,
        IEnumerable<KeyValuePair<string, IReadOnlyList<string?>>> raw)
    {
        ArgumentNullException.ThrowIfNull(query);
        return Bind($"query '{query.Id}'", query.Parameters, query.Rules, raw);
    }

    /// <summary>The same binding for anything with a parameter schema (an analysis, too); <paramref name="owner"/> names it in messages.</summary>
    public static (BoundParameters? Values, Dictionary<string, string[]> Errors) Bind(
        string owner,
        IReadOnlyList<QueryParameter> parameters,
        IReadOnlyList<QueryRule> rules,
        IEnumerable<KeyValuePair<string, IReadOnlyList<string?>>> raw)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(rules);
        ArgumentNullException.ThrowIfNull(raw);

        var errors = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
        var supplied = new Dictionary<string, IReadOnlyList<string?>>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in raw)
        {
            if (parameters.Any(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)))
            {
                supplied[name] = values;
            }
            else
            {
                var allowed = parameters.Count == 0 ? "none" : string.Join(", ", parameters.Select(p => p.Name));
                Add(errors, name, $"Unknown parameter for {owner}. Allowed parameters: {allowed}.");
            }
        }

        var bound = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        foreach (var parameter in parameters)
        {
            if (!supplied.TryGetValue(parameter.Name, out var values) || values.Count == 0 || values.All(string.IsNullOrWhiteSpace))
            {
                if (parameter.Required)
                {
                    Add(errors, parameter.Name, $"Required: give a {Describe(parameter)}.");
                }
                bound[parameter.Name] = parameter.Default;
                continue;
            }
            if (values.Count > 1)
            {
                Add(errors, parameter.Name, "Given more than once: give one value.");
                continue;
            }
            var (value, error) = Convert(parameter, values[0]!.Trim());
            if (error is not null)
            {
                Add(errors, parameter.Name, error);
            }
            else
            {
                bound[parameter.Name] = value;
            }
        }

        if (errors.Count == 0)
        {
            var result = new BoundParameters(bound);
            foreach (var rule in rules.Where(rule => !rule.Holds(result)))
            {
                Add(errors, rule.Parameter, rule.Message);
            }
            if (errors.Count == 0)
            {
                return (result, []);
            }
        }
        return (null, errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.OrdinalIgnoreCase));
    }

    private static (object? Value, string? Error) Convert(QueryParameter parameter, string text)
    {
        var culture = CultureInfo.InvariantCulture;
        switch (parameter.Type)
        {
            case QueryParameterType.Integer:
                if (!long.TryParse(text, NumberStyles.AllowLeadingSign, culture, out var integer))
                {
                    return (null, $"Must be a whole number; '{Shorten(text)}' is not.");
                }
                return InRange(parameter, integer) ?? (integer, null);
            case QueryParameterType.Decimal:
                if (!decimal.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, culture, out var number))
                {
                    return (null, $"Must be a number such as 12.5; '{Shorten(text)}' is not.");
                }
                return InRange(parameter, number) ?? (number, null);
            case QueryParameterType.Date:
                if (!DateOnly.TryParseExact(text, "yyyy-MM-dd", culture, DateTimeStyles.None, out var date))
                {
                    return (null, $"Must be a date in the form yyyy-MM-dd; '{Shorten(text)}' is not.");
                }
                if (parameter.MinimumDate is { } minDate && date < minDate || parameter.MaximumDate is { } maxDate && date > maxDate)
                {
                    return (null, $"Must be between {parameter.MinimumDate:yyyy-MM-dd} and {parameter.MaximumDate:yyyy-MM-dd}.");
                }
                return (date, null);
            case QueryParameterType.Boolean:
                return bool.TryParse(text, out var flag) ? (flag, null) : (null, $"Must be true or false; '{Shorten(text)}' is not.");
            case QueryParameterType.Text:
                if (text.Length > parameter.MaxLength)
                {
                    return (null, $"Must be at most {parameter.MaxLength} characters long.");
                }
                if (parameter.AllowedValues is { } allowed)
                {
                    var match = allowed.FirstOrDefault(a => string.Equals(a, text, StringComparison.OrdinalIgnoreCase));
                    return match is null
                        ? (null, $"Must be one of: {string.Join(", ", allowed)}; '{Shorten(text)}' is not.")
                        : (match, null);
                }
                return (text, null);
            default:
                throw new InvalidOperationException($"Parameter type {parameter.Type} is not handled.");
        }
    }

    private static (object?, string?)? InRange(QueryParameter parameter, decimal value) =>
        parameter.Minimum is { } min && value < min || parameter.Maximum is { } max && value > max
            ? (null, $"Must be between {parameter.Minimum?.ToString(CultureInfo.InvariantCulture) ?? "-∞"} and {parameter.Maximum?.ToString(CultureInfo.InvariantCulture) ?? "∞"}.")
            : null;

    private static string Describe(QueryParameter parameter) => parameter.Type switch
    {
        QueryParameterType.Integer => "whole number",
        QueryParameterType.Decimal => "number",
        QueryParameterType.Date => "date (yyyy-MM-dd)",
        QueryParameterType.Boolean => "true or false",
        _ => parameter.AllowedValues is { } allowed ? $"value among {string.Join(", ", allowed)}" : "text value",
    };

    // Echoing hostile input back verbatim at any length helps nobody; 40 characters identify it.
    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";

    private static void Add(Dictionary<string, List<string>> errors, string name, string message)
    {
        if (!errors.TryGetValue(name, out var list))
        {
            errors[name] = list = [];
        }
        list.Add(message);
    }
}
