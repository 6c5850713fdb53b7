using System.Net;
using System.Security.Claims;
using System.Threading.RateLimiting;
using AspirePerf.ApiClient;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Kiota.Abstractions;

namespace AspirePerf.Dashboard.Web.Operators;

/// <summary>
/// Operator sign-in with the API's operator key. The key is checked against the API (an operator-only read), then kept
/// only inside the encrypted, HttpOnly authentication cookie (ASP.NET Core data protection): never in the page, never
/// in script's reach. Without the cookie every page is read-only and shows no action.
/// </summary>
public static class OperatorAccess
{
    public const string Role = "operator";
    public const string SignInPath = "/signin";
    internal const string KeyClaim = "aspireperf:operator-key";
    private const string SignInLimit = "signin";
    private const int MaxKeyLength = 512;

    public static void AddOperatorAccess(this IHostApplicationBuilder builder)
    {
        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(options =>
            {
                options.Cookie.Name = "aspireperf-operator";
                options.Cookie.HttpOnly = true;
                options.Cookie.SameSite = SameSiteMode.Strict;
                options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                options.ExpireTimeSpan = TimeSpan.FromHours(8);
                options.SlidingExpiration = true;
                options.LoginPath = SignInPath;
                options.AccessDeniedPath = SignInPath;
            });
        builder.Services.AddAuthorization();
        builder.Services.AddCascadingAuthenticationState();
        builder.Services.AddScoped<OperatorSession>();
        // Guessing keys costs a call to the API each: a few attempts a minute per client address is all a person needs.
        builder.Services.AddRateLimiter(options =>
        {
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.AddPolicy(SignInLimit, context => RateLimitPartition.GetFixedWindowLimiter(
                context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                _ => new FixedWindowRateLimiterOptions { PermitLimit = 10, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
        });
    }

    public static void MapOperatorAccess(this WebApplication app)
    {
        // Form posts: ASP.NET Core checks their antiforgery token (the forms carry <AntiforgeryToken />).
        app.MapPost("/account/signin", SignInAsync).RequireRateLimiting(SignInLimit);
        app.MapPost("/account/signout", async (HttpContext context, [FromForm] string? returnUrl) =>
        {
            await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return Results.LocalRedirect(LocalOrRoot(returnUrl));
        });
    }

    private static async Task<IResult> SignInAsync(HttpContext context, AspirePerfApiClient api, ILoggerFactory loggers,
        [FromForm] string? key, [FromForm] string? returnUrl)
    {
        var back = LocalOrRoot(returnUrl);
        if (string.IsNullOrWhiteSpace(key) || key.Length > MaxKeyLength)
        {
            return Refused(back, "empty");
        }
        key = key.Trim();
        try
        {
            // An operator-only read: 200 means the API takes this key for an operator.
            await api.Api.V1.Audit.GetAsync(request =>
            {
                request.QueryParameters.Limit = 1;
                request.Headers.Add(ApiKeyHeader, key);
            }, context.RequestAborted);
        }
        catch (ApiException ex) when (ex.ResponseStatusCode is (int)HttpStatusCode.Unauthorized or (int)HttpStatusCode.Forbidden)
        {
            loggers.CreateLogger(typeof(OperatorAccess)).LogWarning("Operator sign-in refused from {Address}: the API answered {Status}",
                context.Connection.RemoteIpAddress, ex.ResponseStatusCode);
            return Refused(back, "refused");
        }
        catch (Exception ex) when (ex is HttpRequestException or ApiException or TaskCanceledException or Polly.ExecutionRejectedException)
        {
            loggers.CreateLogger(typeof(OperatorAccess)).LogWarning(ex, "Operator sign-in could not be checked: the API did not answer");
            return Refused(back, "unavailable");
        }
        var identity = new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, "operator"), new Claim(ClaimTypes.Role, Role), new Claim(KeyClaim, key)],
            CookieAuthenticationDefaults.AuthenticationScheme);
        await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, new ClaimsPrincipal(identity));
        return Results.LocalRedirect(back);
    }

    public const string ApiKeyHeader = "X-Api-Key";

    /// <summary>The operator key of a signed-in operator, read from the cookie's claims on the server.</summary>
    public static string? OperatorKey(this ClaimsPrincipal user) =>
        user.IsInRole(Role) ? user.FindFirst(KeyClaim)?.Value : null;

    private static IResult Refused(string back, string reason) =>
        Results.LocalRedirect($"{SignInPath}?failed={reason}&returnUrl={Uri.EscapeDataString(back)}");

    // Only paths on this site: a crafted returnUrl must not send an operator elsewhere (open redirect). No control
    // characters either: browsers drop tabs and line breaks ("/\t/evil" is "//evil" to them), and LocalRedirect refuses
    // them with an exception, which was a 500 for a crafted link.
    internal static string LocalOrRoot(string? returnUrl) =>
        returnUrl is { Length: > 0 and < 2048 } url && url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal)
            && !url.StartsWith("/\\", StringComparison.Ordinal) && !url.Any(char.IsControl) ? url : "/";
}

/// <summary>
/// The signed-in operator of one circuit, for pages: whether actions may show, and the key to send with them.
/// </summary>
public sealed class OperatorSession(AuthenticationStateProvider authentication)
{
    public async Task<bool> IsOperatorAsync() => (await authentication.GetAuthenticationStateAsync()).User.OperatorKey() is not null;

    /// <summary>Adds the operator key to one API request; refuses when this circuit has no operator signed in.</summary>
    public async Task<Action<RequestConfiguration<T>>> AuthorizeAsync<T>() where T : class, new()
    {
        var key = (await authentication.GetAuthenticationStateAsync()).User.OperatorKey()
            ?? throw new UnauthorizedAccessException("Sign in as an operator first.");
        return request => request.Headers.Add(OperatorAccess.ApiKeyHeader, key);
    }

    /// <summary>Like <see cref="AuthorizeAsync{T}"/>, and also lets <paramref name="configure"/> set the request's parameters.</summary>
    public async Task<Action<RequestConfiguration<T>>> AuthorizeAsync<T>(Action<RequestConfiguration<T>> configure) where T : class, new()
    {
        var authorize = await AuthorizeAsync<T>();
        return request =>
        {
            configure(request);
            authorize(request);
        };
    }
}
