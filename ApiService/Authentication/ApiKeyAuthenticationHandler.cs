using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace AspirePerf.ApiService.Authentication;

/// <summary>
/// API-key authentication from the <c>X-Api-Key</c> header. ASP.NET Core ships no API-key scheme, hence this small
/// handler. No header: anonymous (authorization decides). Unknown key: failed authentication, so an endpoint that
/// needs a role answers 401, while a known key lacking the role gets 403. Keys are compared as SHA-256 digests with
/// <see cref="CryptographicOperations.FixedTimeEquals"/>, against every configured key, so timing reveals nothing.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions,
    IOptionsMonitor<ApiKeyOptions> keys,
    ILoggerFactory logger,
    UrlEncoder encoder) : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string HeaderName = "X-Api-Key";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Headers.TryGetValue(HeaderName, out var values) || string.IsNullOrEmpty(values.ToString()))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var presented = SHA256.HashData(Encoding.UTF8.GetBytes(values.ToString()));
        ApiKeyEntry? match = null;
        foreach (var entry in keys.CurrentValue.Keys)
        {
            if (CryptographicOperations.FixedTimeEquals(presented, SHA256.HashData(Encoding.UTF8.GetBytes(entry.Key))))
            {
                match = entry;
            }
        }
        if (match is null)
        {
            return Task.FromResult(AuthenticateResult.Fail($"The {HeaderName} header does not hold a known API key."));
        }

        var claims = new List<Claim> { new(ClaimTypes.Name, match.Name) };
        foreach (var role in match.Roles)
        {
            claims.Add(new(ClaimTypes.Role, role));
        }
        // An operator can do everything a reader can.
        if (match.Roles.Contains(ApiRoles.Operator) && !match.Roles.Contains(ApiRoles.Reader))
        {
            claims.Add(new(ClaimTypes.Role, ApiRoles.Reader));
        }
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = $"{SchemeName} header=\"{HeaderName}\"";
        return base.HandleChallengeAsync(properties);
    }
}
