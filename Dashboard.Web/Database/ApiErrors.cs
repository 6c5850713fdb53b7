using AspirePerf.ApiClient.Models;
using HttpValidationProblemDetails = AspirePerf.ApiClient.Models.HttpValidationProblemDetails;
using ProblemDetails = AspirePerf.ApiClient.Models.ProblemDetails;
using Microsoft.Kiota.Abstractions;

namespace AspirePerf.Dashboard.Web.Database;

/// <summary>What the Database page tells a person when an API call fails: the problem document's own words when there is one.</summary>
public static class ApiErrors
{
    public static string Describe(Exception error) => error switch
    {
        HttpValidationProblemDetails invalid => $"{Or(invalid.Title, "Invalid request")}: " +
            string.Join("; ", invalid.ErrorsByParameter().Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")),
        ProblemDetails problem => string.IsNullOrWhiteSpace(problem.Detail)
            ? Or(problem.Title, $"HTTP {problem.ResponseStatusCode}")
            : $"{Or(problem.Title, $"HTTP {problem.ResponseStatusCode}")}: {problem.Detail}",
        ApiException api when api.ResponseStatusCode is 401 or 403 => "The API refused the operator key: sign in again.",
        ApiException api => $"The API answered HTTP {api.ResponseStatusCode}.",
        UnauthorizedAccessException denied => denied.Message,
        OperationCanceledException => "The API did not answer in time.",
        _ => $"The API could not be reached ({error.GetType().Name}).",
    };

    private static string Or(string? text, string fallback) => string.IsNullOrWhiteSpace(text) ? fallback : text;
}
