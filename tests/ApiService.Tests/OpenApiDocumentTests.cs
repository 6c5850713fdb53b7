using System.Text.Json.Nodes;
using AspirePerf.TestSupport;

namespace AspirePerf.ApiService.Tests;

/// <summary>
/// ApiClient/openapi-v1.json, the document the C# client is generated from on build, is the one the API serves: a change
/// to an endpoint, its metadata or a registered query that changes the document fails here until the checked-in copy
/// (and so the generated client) follows. Set ASPIREPERF_UPDATE_OPENAPI=1 to write the served document over it.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class OpenApiDocumentTests(InfrastructureFixture infrastructure)
{
    public static string CheckedInPath => Path.Combine(TestDirectories.RepositoryRoot, "ApiClient", "openapi-v1.json");

    [Fact]
    public async Task The_checked_in_document_the_client_is_generated_from_is_the_one_the_api_serves()
    {
        var database = await infrastructure.CreateSeededDatabaseAsync("openapidocument", scale: 1_000);
        // The configuration the client is generated for: a Development host's defaults (reads anonymous, keys configured).
        await using var factory = new ApiFactory(database, infrastructure.Redis.ConnectionString);
        using var client = factory.CreateClient();
        var served = await client.GetStringAsync("/openapi/v1.json");

        var same = File.Exists(CheckedInPath) && JsonNode.DeepEquals(JsonNode.Parse(served), JsonNode.Parse(await File.ReadAllTextAsync(CheckedInPath)));
        if (!same && Environment.GetEnvironmentVariable("ASPIREPERF_UPDATE_OPENAPI") == "1")
        {
            await File.WriteAllTextAsync(CheckedInPath, served);
            return;
        }
        if (!same)
        {
            Directory.CreateDirectory(TestDirectories.TestResults);
            var fresh = Path.Combine(TestDirectories.TestResults, "openapi-v1.json");
            await File.WriteAllTextAsync(fresh, served);
            Assert.Fail($"The API's document differs from {CheckedInPath}, which the generated client is built from. The served one is in {fresh}: " +
                "review the difference, then copy it over (or run this test with ASPIREPERF_UPDATE_OPENAPI=1) and rebuild.");
        }
    }
}
