using System.Text.Json;
using AspirePerf.ApiClient.Models;
using AspirePerf.Dashboard.Web.Extensions;
using AspirePerf.Dashboard.Web.Jobs;
using Microsoft.Kiota.Abstractions;
using Microsoft.Kiota.Abstractions.Serialization;
using Microsoft.Kiota.Serialization.Json;

namespace AspirePerf.Dashboard.Web.Tests;

/// <summary>How the Jobs and Database pages word jobs, their JSON and the API's refusals.</summary>
public sealed class JobTextTests
{
    [Fact]
    public void States_and_priorities_are_named_as_the_API_spells_them()
    {
        Assert.Equal(JobText.States, Enum.GetValues<JobState>().Select(s => JobText.Name(s)));
        Assert.Equal("unknown", JobText.Name((JobState?)null));
        Assert.Equal("high", JobText.Name(JobPriority.High));
        Assert.Equal("", JobText.Name((JobPriority?)null));
    }

    [Fact]
    public void Cancel_applies_to_waiting_and_running_jobs_and_retry_to_ended_unsuccessful_ones()
    {
        Assert.Equal([JobState.Available, JobState.Scheduled, JobState.Running, JobState.Retryable],
            Enum.GetValues<JobState>().Where(s => JobText.IsCancellable(s)));
        Assert.Equal([JobState.Discarded, JobState.Cancelled], Enum.GetValues<JobState>().Where(s => JobText.IsRetryable(s)));
        Assert.False(JobText.IsCancellable(null));
        Assert.False(JobText.IsRetryable(null));
    }

    [Fact]
    public void Only_a_completed_job_whose_result_names_a_file_has_a_download()
    {
        var export = Untyped("""{"fileName": "employment-spells.ndjson", "rows": 1000000, "bytes": 123456789}""");
        Assert.True(JobText.HasFile(new JobRecord { State = JobState.Completed, Result = export }));
        Assert.False(JobText.HasFile(new JobRecord { State = JobState.Running, Result = export }));
        Assert.False(JobText.HasFile(new JobRecord { State = JobState.Completed, Result = Untyped("""{"rows": 3}""") }));
        Assert.False(JobText.HasFile(new JobRecord { State = JobState.Completed, Result = Untyped("""["fileName"]""") }));
        Assert.False(JobText.HasFile(new JobRecord { State = JobState.Completed }));
    }

    [Fact]
    public void A_listing_key_holds_every_parameter_of_the_read()
    {
        Assert.Equal("jobs?state=running&type=export&page=2&pageSize=50", JobText.ListKey("running", "export", 2, 50));
        Assert.Equal("jobs?state=&type=&page=1&pageSize=25", JobText.ListKey(null, null, 1, 25));
        Assert.NotEqual(JobText.ListKey("running", null, 1, 25), JobText.ListKey(null, "running", 1, 25));
    }

    [Fact]
    public void Counts_by_state_are_read_from_the_statistics_map_as_Kiota_holds_it()
    {
        var statistics = Parse("""
            {"at": "2026-11-30T13:00:00Z", "byState": {"available": 12, "running": 3, "completed": 1234567890123, "discarded": 2.0}}
            """, JobStatistics.CreateFromDiscriminatorValue);

        Assert.Equal(12, JobText.Count(statistics, "available"));
        Assert.Equal(3, JobText.Count(statistics, "running"));
        Assert.Equal(1234567890123, JobText.Count(statistics, "completed"));
        Assert.Equal(2, JobText.Count(statistics, "discarded"));
        Assert.Equal(0, JobText.Count(statistics, "cancelled"));
        Assert.Equal(0, JobText.Count(null, "running"));
    }

    [Fact]
    public void A_payload_is_written_as_indented_JSON_with_its_types_kept()
    {
        var text = JobText.Json(Untyped("""{"queryId": "wage-percentiles", "parameters": {"year": 2024, "ratio": 0.5, "all": true, "region": null}, "tags": ["a", "ä <b>"]}"""));

        using var reparsed = JsonDocument.Parse(text);
        Assert.Equal("wage-percentiles", reparsed.RootElement.GetProperty("queryId").GetString());
        Assert.Equal(2024, reparsed.RootElement.GetProperty("parameters").GetProperty("year").GetInt32());
        Assert.Equal(0.5, reparsed.RootElement.GetProperty("parameters").GetProperty("ratio").GetDouble());
        Assert.True(reparsed.RootElement.GetProperty("parameters").GetProperty("all").GetBoolean());
        Assert.Equal(JsonValueKind.Null, reparsed.RootElement.GetProperty("parameters").GetProperty("region").ValueKind);
        Assert.Contains("\n  \"queryId\"", text, StringComparison.Ordinal); // indented
        Assert.Contains("ä <b>", text, StringComparison.Ordinal); // readable: the page encodes HTML itself
        Assert.Equal("—", JobText.Json(null));
        Assert.Equal("—", JobText.Json(new UntypedNull()));
    }

    [Fact]
    public void A_large_result_is_cut_and_says_how_long_it_was()
    {
        var rows = string.Join(",", Enumerable.Range(0, 2000).Select(i => $$"""{"row": {{i}}, "name": "employer {{i}}"}"""));
        var text = JobText.Json(Untyped($"[{rows}]"));

        Assert.StartsWith("[", text, StringComparison.Ordinal);
        var cut = text.IndexOf("\n… (cut: ", StringComparison.Ordinal);
        Assert.Equal(JobText.MaxJsonChars, cut);
        Assert.EndsWith(" characters in all)", text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_hostile_deeply_nested_result_is_written_without_recursing_forever()
    {
        var deep = string.Concat(Enumerable.Repeat("[", 60)) + "1" + string.Concat(Enumerable.Repeat("]", 60));
        var node = new JsonParseNode(JsonDocument.Parse(deep, new JsonDocumentOptions { MaxDepth = 100 }).RootElement)
            .GetObjectValue(UntypedNode.CreateFromDiscriminatorValue);

        var text = JobText.Json(node);

        Assert.Contains("\"…\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("1", text.Replace("…", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public void A_validation_problem_names_each_parameter_and_its_rule()
    {
        var problem = Parse("""
            {"type": "https://tools.ietf.org/html/rfc9110#section-15.5.1", "title": "One or more validation errors occurred.", "status": 400,
             "errors": {"payload": ["Must be an object."], "type": ["Unknown job type 'exprot'.", "Known: export, analysis."]}}
            """, HttpValidationProblemDetails.CreateFromDiscriminatorValue);
        Assert.NotNull(problem);
        problem.ResponseStatusCode = 400;

        var jobs = ApiErrors.Describe(problem);
        Assert.StartsWith("One or more validation errors occurred.: ", jobs, StringComparison.Ordinal);
        Assert.Contains("payload: Must be an object.", jobs, StringComparison.Ordinal);
        Assert.Contains("type: Unknown job type 'exprot'. Known: export, analysis.", jobs, StringComparison.Ordinal);
    }

    [Fact]
    public void Other_failures_are_said_in_words_without_a_stack_trace()
    {
        var conflict = new ProblemDetails { Title = "Already finished", Detail = "Job 42 completed.", ResponseStatusCode = 409 };
        Assert.Equal("Already finished: Job 42 completed.", ApiErrors.Describe(conflict));
        var bare = new ProblemDetails { ResponseStatusCode = 504 };
        Assert.Equal("HTTP 504", ApiErrors.Describe(bare));

        Assert.Equal("The API refused the operator key: sign in again.", ApiErrors.Describe(new ApiException { ResponseStatusCode = 403 }));
        Assert.Equal("The API refused the operator key: sign in again.", ApiErrors.Describe(new ApiException { ResponseStatusCode = 401 }));
        Assert.StartsWith("The API is rate limiting", ApiErrors.Describe(new ApiException { ResponseStatusCode = 429 }), StringComparison.Ordinal);
        Assert.Equal("The API answered HTTP 500.", ApiErrors.Describe(new ApiException { ResponseStatusCode = 500 }));
        Assert.Equal("Sign in as an operator first.", ApiErrors.Describe(new UnauthorizedAccessException("Sign in as an operator first.")));
        Assert.Equal("The API did not answer in time.", ApiErrors.Describe(new TaskCanceledException()));
        Assert.Equal("The API could not be reached (HttpRequestException).", ApiErrors.Describe(new HttpRequestException("secret detail")));
    }

    // How the generated client reads a response body.
    private static T Parse<T>(string json, ParsableFactory<T> factory) where T : IParsable =>
        new JsonParseNode(JsonDocument.Parse(json).RootElement).GetObjectValue(factory)!;

    private static UntypedNode Untyped(string json) =>
        new JsonParseNode(JsonDocument.Parse(json).RootElement).GetObjectValue(UntypedNode.CreateFromDiscriminatorValue)!;
}
