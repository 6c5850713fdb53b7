using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.OpenApi;

namespace AspirePerf.ApiService.OpenApi;

/// <summary>
/// Adds what the pipeline answers around an endpoint, from the metadata that makes it answer so: 429 where a rate-limit
/// policy applies; 400 (malformed body), 413 and 415 where the endpoint reads a JSON body.
/// </summary>
internal sealed class StandardResponsesTransformer : IOpenApiOperationTransformer, IOpenApiDocumentTransformer
{
    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken) =>
        StandardResponses.AddComponentsAsync(document, context, cancellationToken);

    public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        operation.Responses ??= [];
        if (operation.Responses.TryGetValue("400", out var badRequest) && badRequest is OpenApiResponse { Description: "Bad Request" } framework)
        {
            framework.Description = "Invalid parameters: `errors` names each parameter and the rule it broke.";
        }
        if (metadata.OfType<EnableRateLimitingAttribute>().Any() && !metadata.OfType<DisableRateLimitingAttribute>().Any())
        {
            operation.Responses["429"] = new OpenApiResponseReference(StandardResponses.TooManyRequests, context.Document);
        }
        if (metadata.OfType<IAcceptsMetadata>().Any(a => a.RequestType is not null))
        {
            if (operation.Responses.TryGetValue("400", out var validation) && validation is OpenApiResponse own)
            {
                own.Description = "The body is malformed (empty, truncated, not a JSON object, members of the wrong type: the detail names " +
                    "the parameter) or fails validation (`errors` names each member and rule).";
            }
            else
            {
                operation.Responses["400"] = new OpenApiResponseReference(StandardResponses.MalformedBody, context.Document);
            }
            operation.Responses["413"] = new OpenApiResponseReference(StandardResponses.PayloadTooLarge, context.Document);
            operation.Responses["415"] = new OpenApiResponseReference(StandardResponses.UnsupportedMediaType, context.Document);
        }
        return Task.CompletedTask;
    }
}
