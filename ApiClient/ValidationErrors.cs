using Microsoft.Kiota.Abstractions.Serialization;

namespace AspirePerf.ApiClient.Models;

/// <summary>A validation problem's <c>errors</c> (a map the document types as additional properties) as messages by parameter name.</summary>
public partial class HttpValidationProblemDetails
{
    public IReadOnlyDictionary<string, string[]> ErrorsByParameter() =>
        (Errors?.AdditionalData ?? new Dictionary<string, object>()).ToDictionary(
            e => e.Key,
            e => e.Value is UntypedArray messages
                ? [.. messages.GetValue().OfType<UntypedString>().Select(m => m.GetValue() ?? "")]
                : new[] { e.Value?.ToString() ?? "" },
            StringComparer.OrdinalIgnoreCase);
}
