using AspirePerf.ApiService.Apis;
using AspirePerf.ApiService.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.MapDefaultEndpoints();
app.MapApiReference();
app.MapSystemApi();

app.Run();

public partial class Program;
