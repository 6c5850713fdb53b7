using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace AspirePerf.ApiService.OpenApi;

/// <summary>
/// Schemas as the API writes its JSON. The web defaults read numbers from strings too, so the framework describes every
/// number as "integer or string with a digits pattern"; the API always writes numbers as numbers, and a generated client
/// typing them as a union of number and string would be worse than useless. A list of untyped arrays (rows:
/// <c>IReadOnlyList&lt;object?[]&gt;</c>) is described as a list of JSON values that are arrays: generators (Kiota among
/// them) cannot deserialize a collection of collections, but do read a collection of untyped JSON nodes.
/// </summary>
internal sealed class SchemaAsWrittenTransformer : IOpenApiSchemaTransformer
{
    public Task TransformAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        if (schema.Type is { } type && (type & (JsonSchemaType.Integer | JsonSchemaType.Number)) != 0 && type.HasFlag(JsonSchemaType.String))
        {
            schema.Type = type & ~JsonSchemaType.String;
            schema.Pattern = null;
        }
        if (schema.Type is { } array && array.HasFlag(JsonSchemaType.Array)
            && schema.Items is OpenApiSchema { Type: { } inner, Items: null or OpenApiSchema { Type: null } } && inner.HasFlag(JsonSchemaType.Array))
        {
            schema.Items = new OpenApiSchema { Description = "An array of values of any JSON type (a row: one value per column, in column order)." };
        }
        return Task.CompletedTask;
    }
}
