using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;

namespace AspirePerf.ApiService.Authentication;

public static class ApiKeyAuthenticationExtensions
{
    /// <summary>
    /// Reads need the Reader policy only when <see cref="ApiKeyOptions.RequireReaderForReads"/>; otherwise they carry no
    /// authorization data at all, and the authorization middleware passes them on without evaluating a policy (an
    /// always-true policy still cost an evaluation, with its metrics, on every read).
    /// </summary>
    public static TBuilder RequireReaders<TBuilder>(this TBuilder builder, IEndpointRouteBuilder app) where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.ServiceProvider.GetRequiredService<Microsoft.Extensions.Options.IOptions<ApiKeyOptions>>().Value.RequireReaderForReads
            ? builder.RequireAuthorization(ApiPolicies.Reader)
            : builder;
    }

    public static void AddApiKeyAuthentication(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ApiKeyOptions>()
            .Bind(builder.Configuration.GetSection(ApiKeyOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();

        builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);

        var keysConfigured = builder.Configuration.GetSection($"{ApiKeyOptions.SectionName}:{nameof(ApiKeyOptions.Keys)}").GetChildren().Any();
        var requireReader = builder.Configuration.GetValue<bool>($"{ApiKeyOptions.SectionName}:{nameof(ApiKeyOptions.RequireReaderForReads)}");
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(ApiPolicies.Reader, policy =>
            {
                if (requireReader)
                {
                    policy.RequireRole(ApiRoles.Reader);
                }
                else
                {
                    policy.RequireAssertion(_ => true);
                }
            })
            .AddPolicy(ApiPolicies.Writer, policy =>
            {
                // Without any key (a bare local run) writes stay open; once keys exist, a write needs one.
                if (keysConfigured)
                {
                    policy.RequireRole(ApiRoles.Reader, ApiRoles.Operator);
                }
                else
                {
                    policy.RequireAssertion(_ => true);
                }
            })
            .AddPolicy(ApiPolicies.Operator, policy => policy.RequireRole(ApiRoles.Operator));
    }
}
