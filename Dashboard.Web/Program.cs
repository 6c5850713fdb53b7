using AspirePerf.Dashboard.Web.Components;
using AspirePerf.Dashboard.Web.Extensions;
using AspirePerf.Dashboard.Web.Jobs;
using AspirePerf.Dashboard.Web.Operators;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseSecurityHeaders(_ => SecurityHeaders.PagePolicy);

if (!app.Environment.IsDevelopment())
{
    app.UseExceptionHandler("/error", createScopeForErrors: true);
}
app.UseAuthentication();
app.UseAuthorization();
app.UseRateLimiter();
app.UseAntiforgery();
app.MapStaticAssets();
app.MapOperatorAccess();
app.MapJobDownloads();
app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
app.MapDefaultEndpoints();

app.Run();

public partial class Program;
