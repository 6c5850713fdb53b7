using System.Text.Json.Nodes;
using AspirePerf.ApiService.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace AspirePerf.ApiService.OpenApi;

/// <summary>
/// The <c>X-Api-Key</c> scheme, and per operation who may call it, read from the authorization policies the endpoint
/// carries as this host configured them: anonymous (a key is optional), reader or operator. An operation that needs a
/// role documents 401 (no key, or an unknown one) and 403 (a key without the role).
/// </summary>
internal sealed class ApiKeySecurityTransformer(IAuthorizationPolicyProvider policies) : IOpenApiDocumentTransformer, IOpenApiOperationTransformer
{
    public const string SchemeId = ApiKeyAuthenticationHandler.SchemeName;
    public const string AccessExtension = "x-aspireperf-access";

    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[SchemeId] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Header,
            Name = ApiKeyAuthenticationHandler.HeaderName,
            Description = "An API key from the service's `ApiKeys:Keys` configuration, sent in the `X-Api-Key` header. " +
                "A key has the `reader` role (enqueue and cancel jobs; reads too, where `ApiKeys:RequireReaderForReads` is on) " +
                "or the `operator` role (everything a reader may, plus cache invalidation, index creation, job retries, profiling " +
                "switches and the audit trail). Each operation's `x-aspireperf-access` says which it needs. On an anonymous " +
                "operation a key is optional: it gives the caller a rate-limit count of its own, and lets an operator force a recompute " +
                "with `Cache-Control: no-cache`.",
        };
        return Task.CompletedTask;
    }

    public async Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var access = await AccessAsync(context.Description.ActionDescriptor.EndpointMetadata);
        var scheme = new OpenApiSecuritySchemeReference(SchemeId, context.Document);
        operation.Extensions ??= new Dictionary<string, IOpenApiExtension>();
        operation.Extensions[AccessExtension] = new JsonNodeExtension(JsonValue.Create(access.ToString().ToLowerInvariant()));
        if (access == ApiAccess.Anonymous)
        {
            // Either no key at all, or a key: both are accepted.
            operation.Security = [new OpenApiSecurityRequirement(), new OpenApiSecurityRequirement { [scheme] = [] }];
            return;
        }
        operation.Security = [new OpenApiSecurityRequirement { [scheme] = [] }];
        operation.Responses ??= [];
        operation.Responses["401"] = new OpenApiResponseReference(StandardResponses.Unauthorized, context.Document);
        operation.Responses["403"] = new OpenApiResponseReference(StandardResponses.Forbidden, context.Document);
        var who = access == ApiAccess.Operator ? "an API key with the operator role" : "an API key with the reader or operator role";
        operation.Description = string.IsNullOrEmpty(operation.Description) ? $"Needs {who}." : $"{operation.Description}\n\nNeeds {who}.";
    }

    /// <summary>The least role that passes every policy on the endpoint, as the host configured those policies.</summary>
    private async Task<ApiAccess> AccessAsync(IList<object> metadata)
    {
        if (metadata.OfType<IAllowAnonymous>().Any())
        {
            return ApiAccess.Anonymous;
        }
        var access = ApiAccess.Anonymous;
        foreach (var data in metadata.OfType<IAuthorizeData>())
        {
            var policy = data.Policy is { } name ? await policies.GetPolicyAsync(name) : await policies.GetDefaultPolicyAsync();
            foreach (var requirement in policy?.Requirements ?? [])
            {
                var needs = requirement switch
                {
                    RolesAuthorizationRequirement roles when roles.AllowedRoles.Contains(ApiRoles.Reader) => ApiAccess.Reader,
                    RolesAuthorizationRequirement => ApiAccess.Operator,
                    DenyAnonymousAuthorizationRequirement => ApiAccess.Reader,
                    _ => ApiAccess.Anonymous, // an assertion that always holds (reads and writes on a host without keys)
                };
                access = needs > access ? needs : access;
            }
        }
        return access;
    }
}

internal enum ApiAccess
{
    Anonymous,
    Reader,
    Operator,
}
