using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace AspirePerf.ApiService.OpenApi;

/// <summary>
/// The web JSON defaults read numbers from strings too, so the framework describes every number as "integer or string
/// with a digits pattern". The API always writes numbers as numbers, and a generated client typing them as a union of
/// number and string would be worse than useless: the document says what is written.
/// </summary>
internal sealed class NumbersAsWrittenTransformer : IOpenApiSchemaTransformer
{
    public Task TransformAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        if (schema.Type is { } type && (type & (JsonSchemaType.Integer | JsonSchemaType.Number)) != 0 && type.HasFlag(JsonSchemaType.String))
        {
            schema.Type = type & ~JsonSchemaType.String;
            schema.Pattern = null;
        }
        return Task.CompletedTask;
    }
}
