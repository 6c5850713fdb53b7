using Microsoft.AspNetCore.OpenApi;

namespace AspirePerf.ApiService.OpenApi;

/// <summary>
/// <c>/openapi/v1.json</c>: ASP.NET Core's document from the endpoints and their metadata, completed by transformers
/// that read the same metadata and services the request pipeline uses (authorization policies, rate limits, the query
/// and analysis registries), so the document cannot describe an API other than the one that answers.
/// </summary>
internal static class ApiDocument
{
    public const string Name = "v1";

    public static void AddApiDocument(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOpenApi(Name, options =>
        {
            // Free-form JSON (a job's payload and result) stays an inline schema that allows anything: as a named component
            // it would become an empty class in a generated client instead of that client's untyped JSON node.
            options.CreateSchemaReferenceId = type => (Nullable.GetUnderlyingType(type.Type) ?? type.Type) == typeof(System.Text.Json.JsonElement)
                ? null
                : OpenApiOptions.CreateDefaultSchemaReferenceId(type);
            options.AddSchemaTransformer<SchemaAsWrittenTransformer>();
            options.AddOperationTransformer<ApiKeySecurityTransformer>();
            options.AddOperationTransformer<StandardResponsesTransformer>();
            options.AddDocumentTransformer<ApiKeySecurityTransformer>();
            options.AddDocumentTransformer<StandardResponsesTransformer>();
            options.AddDocumentTransformer<RegisteredOperationsTransformer>();
            options.AddDocumentTransformer<DocumentInfoTransformer>();
        });
    }
}
