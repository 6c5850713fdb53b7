using System.Security.Claims;
using AspirePerf.Dashboard.Web.Operators;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace AspirePerf.Dashboard.Web.Tests;

public sealed class OperatorAccessTests
{
    [Theory]
    [InlineData("/")]
    [InlineData("/jobs")]
    [InlineData("/database?fingerprint=abc&tab=plan")]
    [InlineData("/jobs/42#result")]
    public void A_path_on_this_site_is_kept(string url) => Assert.Equal(url, OperatorAccess.LocalOrRoot(url));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("//evil.example")]
    [InlineData("//evil.example/jobs")]
    [InlineData("/\\evil.example")]
    [InlineData("https://evil.example/")]
    [InlineData("http://evil.example")]
    [InlineData("javascript:alert(1)")]
    [InlineData("evil.example")]
    [InlineData("jobs")]
    [InlineData("~/jobs")]
    [InlineData("\\\\evil.example")]
    [InlineData("/\t/evil.example")] // browsers drop tabs and line breaks: this is //evil.example to them
    [InlineData("/\r\n/evil.example")]
    [InlineData("/jobs\nLocation: https://evil.example")]
    public void Anything_else_goes_to_the_root(string? url) => Assert.Equal("/", OperatorAccess.LocalOrRoot(url));

    [Fact]
    public void A_very_long_return_url_goes_to_the_root()
    {
        var longest = "/" + new string('a', 2046);
        Assert.Equal(longest, OperatorAccess.LocalOrRoot(longest));
        Assert.Equal("/", OperatorAccess.LocalOrRoot(longest + "a"));
        Assert.Equal("/", OperatorAccess.LocalOrRoot("/" + new string('a', 100_000)));
    }

    [Theory]
    [InlineData("/jobs")]
    [InlineData("//evil.example")]
    [InlineData("/\\evil.example")]
    [InlineData("/\t/evil.example")]
    [InlineData("/jobs\r\nSet-Cookie: x=1")]
    [InlineData("https://evil.example")]
    public async Task What_the_guard_lets_through_is_a_redirect_ASP_NET_Core_accepts_as_local(string url)
    {
        // The sign-in and sign-out endpoints answer Results.LocalRedirect(LocalOrRoot(returnUrl)), which throws (a 500)
        // for anything it does not take as local: the guard must hand it only what it takes.
        var context = new DefaultHttpContext { RequestServices = new ServiceCollection().AddLogging().BuildServiceProvider() };

        await Results.LocalRedirect(OperatorAccess.LocalOrRoot(url)).ExecuteAsync(context);

        Assert.Equal(StatusCodes.Status302Found, context.Response.StatusCode);
        Assert.Equal(OperatorAccess.LocalOrRoot(url), context.Response.Headers.Location.ToString());
    }

    [Fact]
    public void OperatorKey_is_the_key_of_a_signed_in_operator_and_null_for_anyone_else()
    {
        var operatorUser = Principal(new Claim(ClaimTypes.Role, OperatorAccess.Role), new Claim(OperatorAccess.KeyClaim, "op-key-123"));
        Assert.Equal("op-key-123", operatorUser.OperatorKey());

        Assert.Null(new ClaimsPrincipal(new ClaimsIdentity()).OperatorKey()); // anonymous
        Assert.Null(Principal(new Claim(ClaimTypes.Name, "reader")).OperatorKey());
        // A key claim without the operator role (or the role without a key) is not an operator.
        Assert.Null(Principal(new Claim(OperatorAccess.KeyClaim, "op-key-123")).OperatorKey());
        Assert.Null(Principal(new Claim(ClaimTypes.Role, "reader"), new Claim(OperatorAccess.KeyClaim, "op-key-123")).OperatorKey());
        Assert.Null(Principal(new Claim(ClaimTypes.Role, OperatorAccess.Role)).OperatorKey());
    }

    private static ClaimsPrincipal Principal(params Claim[] claims) =>
        new(new ClaimsIdentity(claims, CookieAuthenticationDefaults.AuthenticationScheme));
}
