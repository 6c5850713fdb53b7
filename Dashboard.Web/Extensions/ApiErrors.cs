using AspirePerf.ApiClient.Models;
using HttpValidationProblemDetails = AspirePerf.ApiClient.Models.HttpValidationProblemDetails;
using ProblemDetails = AspirePerf.ApiClient.Models.ProblemDetails;
using Microsoft.Kiota.Abstractions;

namespace AspirePerf.Dashboard.Web.Extensions;

/// <summary>
/// What a page tells a person when an API call fails: the problem document's own words (every field and its rule for a
/// validation problem), plain words for the rest, never a stack trace or a transport error's internals.
/// </summary>
public static class ApiErrors
{
    public static string Describe(Exception error) => error switch
    {
        HttpValidationProblemDetails invalid => $"{Or(invalid.Title, "Invalid request")}: " +
            string.Join("; ", invalid.ErrorsByParameter().Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")),
        ProblemDetails problem => string.IsNullOrWhiteSpace(problem.Detail)
            ? Or(problem.Title, $"HTTP {problem.ResponseStatusCode}")
            : $"{Or(problem.Title, $"HTTP {problem.ResponseStatusCode}")}: {problem.Detail}",
        ApiException { ResponseStatusCode: 401 or 403 } => "The API refused the operator key: sign in again.",
        ApiException { ResponseStatusCode: 429 } => "The API is rate limiting these requests (429): try again in a moment.",
        ApiException api => $"The API answered HTTP {api.ResponseStatusCode}.",
        UnauthorizedAccessException denied => denied.Message,
        OperationCanceledException => "The API did not answer in time.",
        _ => $"The API could not be reached ({error.GetType().Name}).",
    };

    private static string Or(string? text, string fallback) => string.IsNullOrWhiteSpace(text) ? fallback : text;
}
