using System.ComponentModel.DataAnnotations;

namespace AspirePerf.ApiService.Authentication;

/// <summary>API keys and what they may do, from the <c>ApiKeys</c> configuration section.</summary>
public sealed class ApiKeyOptions : IValidatableObject
{
    public const string SectionName = "ApiKeys";

    /// <summary>When true, read endpoints need a key with the reader (or operator) role; anonymous otherwise.</summary>
    public bool RequireReaderForReads { get; set; }

    public List<ApiKeyEntry> Keys { get; set; } = [];

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var (key, index) in Keys.Select((k, i) => (k, i)))
        {
            if (string.IsNullOrWhiteSpace(key.Name))
            {
                yield return new($"ApiKeys:Keys:{index}:Name is required.");
            }
            if (key.Key is null || key.Key.Length < 16)
            {
                yield return new($"ApiKeys:Keys:{index}:Key must be at least 16 characters.");
            }
            foreach (var role in key.Roles.Where(r => r is not (ApiRoles.Reader or ApiRoles.Operator)))
            {
                yield return new($"ApiKeys:Keys:{index}:Roles has '{role}'; roles are '{ApiRoles.Reader}' and '{ApiRoles.Operator}'.");
            }
        }
        if (Keys.Select(k => k.Key).Distinct(StringComparer.Ordinal).Count() != Keys.Count)
        {
            yield return new("ApiKeys:Keys has the same key twice.");
        }
    }
}

public sealed class ApiKeyEntry
{
    public string Name { get; set; } = "";
    public string Key { get; set; } = "";
    public List<string> Roles { get; set; } = [];
}

public static class ApiRoles
{
    public const string Reader = "reader";
    public const string Operator = "operator";
}

public static class ApiPolicies
{
    /// <summary>Reads: anonymous unless <see cref="ApiKeyOptions.RequireReaderForReads"/>.</summary>
    public const string Reader = "Reader";

    /// <summary>Writes (enqueue, cancel): once any key is configured, a key with the reader or operator role.</summary>
    public const string Writer = "Writer";

    /// <summary>Administrative endpoints (cache invalidation, index creation, job retries).</summary>
    public const string Operator = "Operator";
}
