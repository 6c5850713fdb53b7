using AspirePerf.ApiService.Apis;
using AspirePerf.ApiService.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseAuthentication();
app.UseAuthorization();
app.MapDefaultEndpoints();
app.MapApiReference();
app.MapSystemApi();
app.MapQueriesApi();
app.MapPerfApi();

app.Run();

public partial class Program;
