using AspirePerf.TestSupport;

namespace AspirePerf.ApiService.Tests;

/// <summary>
/// The document the running API serves passes a widely used third-party linter, Redocly CLI's recommended rules, with no
/// error and no warning (rules switched off are named, with their reason, in eng/openapi-lint/redocly.yaml), in each
/// configuration that changes it: reads anonymous or keyed, keys configured or none (Production without keys).
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class OpenApiLintTests(InfrastructureFixture infrastructure) : IAsyncLifetime
{
    private string _database = "";

    public async Task InitializeAsync()
    {
        _database = await infrastructure.CreateSeededDatabaseAsync("openapilint", scale: 1_000);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Theory]
    [InlineData("Development", false)]
    [InlineData("Development", true)]
    [InlineData("Production", false)]
    public async Task The_served_document_passes_redocly_recommended_with_no_error_and_no_warning(string environment, bool readersNeedKeys)
    {
        await using var factory = new ApiFactory(_database, infrastructure.Redis.ConnectionString, environment: environment,
            settings: new() { ["ApiKeys:RequireReaderForReads"] = readersNeedKeys ? "true" : "false" });
        using var client = factory.CreateClient();
        var document = await client.GetStringAsync("/openapi/v1.json");

        var lint = await Redocly.LintAsync(document);

        Assert.True(lint is { ExitCode: 0, Errors: 0, Warnings: 0 },
            $"redocly lint: exit {lint.ExitCode}, {lint.Errors} errors, {lint.Warnings} warnings{Environment.NewLine}{lint.Report}");
    }
}
