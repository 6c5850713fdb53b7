using AspirePerf.ApiService.Apis;
using AspirePerf.ApiService.Authentication;
using AspirePerf.ApiService.Extensions;
using AspirePerf.ApiService.Http;
using AspirePerf.Performance.Profiling;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseSecurityHeaders(ApiReference.ContentSecurityPolicy);
app.UseMiddleware<RequestProfilingMiddleware>();
app.UseApiCompression();
app.UseExceptionHandler();
app.UseStatusCodePages();
// The authentication middleware runs the default scheme's handler on every request; one without an X-Api-Key header
// has nothing to authenticate (it stays anonymous either way), so only requests that carry the header go through it.
app.UseWhen(context => context.Request.Headers.ContainsKey(ApiKeyAuthenticationHandler.HeaderName), keyed => keyed.UseAuthentication());
app.UseAuthorization();
app.UseRateLimiter();
app.MapDefaultEndpoints();
app.MapApiReference();
app.MapSystemApi();
app.MapQueriesApi();
app.MapAnalysesApi();
app.MapPerfApi();
app.MapJobsApi();
app.MapAuditApi();

app.Run();

public partial class Program;
