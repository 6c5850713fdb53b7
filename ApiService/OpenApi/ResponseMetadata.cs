using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Mvc;
using Microsoft.OpenApi;

namespace AspirePerf.ApiService.OpenApi;

/// <summary>
/// Endpoint metadata for answers a handler gives as <c>TypedResults.Problem</c>, which carries no metadata of its own, and
/// examples of what an endpoint reads.
/// </summary>
internal static class ResponseMetadata
{
    /// <summary>The endpoint answers <paramref name="statusCode"/> as a problem document when <paramref name="description"/>.</summary>
    public static RouteHandlerBuilder ProducesProblemFor(this RouteHandlerBuilder builder, int statusCode, string description) =>
        builder.WithMetadata(new ProducesResponseTypeMetadata(statusCode, typeof(ProblemDetails), [StandardResponses.ProblemContentType])
        {
            Description = description,
        });

    /// <summary>A success or bodiless answer with its meaning.</summary>
    public static RouteHandlerBuilder ProducesFor(this RouteHandlerBuilder builder, int statusCode, string description, Type? type = null,
        params string[] contentTypes) =>
        builder.WithMetadata(new ProducesResponseTypeMetadata(statusCode, type ?? typeof(void), contentTypes) { Description = description });

    /// <summary>An example JSON body, shown by the reference and checked against the body's schema by the linter.</summary>
    public static RouteHandlerBuilder WithRequestExample(this RouteHandlerBuilder builder, string json) =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            if (operation.RequestBody?.Content?.TryGetValue("application/json", out var body) == true)
            {
                body.Example = JsonNode.Parse(json);
            }
            return Task.CompletedTask;
        });
}
