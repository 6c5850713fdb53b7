using AspirePerf.ApiService.Apis;
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
app.UseAuthentication();
app.UseAuthorization();
app.UseRateLimiter();
app.MapDefaultEndpoints();
app.MapApiReference();
app.MapSystemApi();
app.MapQueriesApi();
app.MapPerfApi();
app.MapJobsApi();
app.MapAuditApi();

app.Run();

public partial class Program;
