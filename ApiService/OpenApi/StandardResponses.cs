using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace AspirePerf.ApiService.OpenApi;

/// <summary>
/// The answers the pipeline gives before or around an endpoint, shared by every operation that can get them:
/// 401/403 (authorization), 429 (rate limits, with Retry-After), 413/415 and a malformed body's 400 (body binding). All
/// are RFC 9457 problem documents.
/// </summary>
internal static class StandardResponses
{
    public const string Unauthorized = "Unauthorized";
    public const string Forbidden = "Forbidden";
    public const string TooManyRequests = "TooManyRequests";
    public const string PayloadTooLarge = "PayloadTooLarge";
    public const string UnsupportedMediaType = "UnsupportedMediaType";
    public const string MalformedBody = "MalformedBody";
    public const string ProblemSchema = nameof(ProblemDetails);
    public const string ProblemContentType = "application/problem+json";

    /// <summary>Adds the shared responses (and the problem schema they use) to the document's components.</summary>
    public static async Task AddComponentsAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        if (!document.Components.Schemas.ContainsKey(ProblemSchema))
        {
            document.Components.Schemas[ProblemSchema] = await context.GetOrCreateSchemaAsync(typeof(ProblemDetails), null, cancellationToken);
        }
        document.Components.Responses ??= new Dictionary<string, IOpenApiResponse>();
        var responses = document.Components.Responses;
        responses[Unauthorized] = Problem(document, "No API key, or one the service does not know. `WWW-Authenticate` names the scheme and header.",
            401, "Unauthorized", null, new Dictionary<string, IOpenApiHeader>
            {
                ["WWW-Authenticate"] = new OpenApiHeader
                {
                    Description = "The scheme to use: `ApiKey header=\"X-Api-Key\"`.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                    Example = JsonValue.Create("ApiKey header=\"X-Api-Key\""),
                },
            });
        responses[Forbidden] = Problem(document, "The API key is known but lacks the role this operation needs.", 403, "Forbidden", null);
        responses[TooManyRequests] = Problem(document,
            "This caller's limit for this class of request (reads, writes, operator or perf; per API key, or per client address " +
            "without one) is used up for the current window. `Retry-After` says when to try again.",
            429, "Too many requests", "This caller's limit for this kind of request is used up; retry after 4 s.",
            new Dictionary<string, IOpenApiHeader>
            {
                ["Retry-After"] = new OpenApiHeader
                {
                    Description = "Whole seconds until the window resets.",
                    Required = true,
                    Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "1" },
                    Example = JsonValue.Create(4),
                },
            });
        responses[PayloadTooLarge] = Problem(document, "The body is larger than `Http:Limits:MaxRequestBodyBytes` (1 MiB by default).",
            413, "Request body too large", "Request body too large. The max request body size is 1048576 bytes.");
        responses[UnsupportedMediaType] = Problem(document, "The body is not sent as `application/json`.",
            415, "Unsupported media type", "Expected a supported JSON media type but got \"text/plain\".");
        responses[MalformedBody] = Problem(document,
            "The body is empty, truncated, not a JSON object, or has members of the wrong type (the detail names the parameter), " +
            "or its values fail validation (`errors` names each member and rule).",
            400, "Malformed request", "Failed to read parameter \"InvalidationRequest request\" from the request body as JSON.");
    }

    private static OpenApiResponse Problem(OpenApiDocument document, string description, int status, string title, string? detail,
        Dictionary<string, IOpenApiHeader>? headers = null)
    {
        var example = new JsonObject
        {
            ["title"] = title,
            ["status"] = status,
        };
        if (detail is not null)
        {
            example["detail"] = detail;
        }
        return new OpenApiResponse
        {
            Description = description,
            Headers = headers,
            Content = new Dictionary<string, OpenApiMediaType>
            {
                [ProblemContentType] = new()
                {
                    Schema = new OpenApiSchemaReference(ProblemSchema, document),
                    Example = example,
                },
            },
        };
    }
}
