using AspirePerf.AppHost;
using AspirePerf.AppHost.Infrastructure;

namespace AspirePerf.AppHost.Tests;

/// <summary>How the AppHost decides between containers and executables, for every setting and runtime answer.</summary>
public sealed class InfrastructureChoiceTests
{
    private static readonly ContainerRuntimeProbeResult Answers = new(true, "docker answered");
    private static readonly ContainerRuntimeProbeResult Silent = new(false, "docker did not answer within 5 s");

    [Theory]
    [InlineData(InfrastructureMode.Auto, true, InfrastructureMode.Containers)]
    [InlineData(InfrastructureMode.Auto, false, InfrastructureMode.Executables)]
    [InlineData(InfrastructureMode.Containers, true, InfrastructureMode.Containers)]
    [InlineData(InfrastructureMode.Executables, true, InfrastructureMode.Executables)]
    [InlineData(InfrastructureMode.Executables, false, InfrastructureMode.Executables)]
    public void A_run_uses_containers_only_when_a_runtime_answers(InfrastructureMode requested, bool runtimeAnswers, InfrastructureMode expected)
    {
        var choice = InfrastructureChoice.Decide(requested, isPublishMode: false, () => runtimeAnswers ? Answers : Silent);

        Assert.Equal(expected, choice.Mode);
        Assert.Null(choice.Error);
    }

    [Fact]
    public void Forced_containers_without_a_runtime_is_an_error_that_says_why_and_what_to_do()
    {
        var choice = InfrastructureChoice.Decide(InfrastructureMode.Containers, isPublishMode: false, () => Silent);

        Assert.NotNull(choice.Error);
        Assert.DoesNotContain('\n', choice.Error);
        Assert.Contains("docker did not answer", choice.Error, StringComparison.Ordinal);
        Assert.Contains("--AppHost:Infrastructure=executables", choice.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(InfrastructureMode.Auto, InfrastructureMode.Containers)]
    [InlineData(InfrastructureMode.Containers, InfrastructureMode.Containers)]
    [InlineData(InfrastructureMode.Executables, InfrastructureMode.Executables)]
    public void Publishing_never_asks_the_runtime(InfrastructureMode requested, InfrastructureMode expected)
    {
        var choice = InfrastructureChoice.Decide(requested, isPublishMode: true, () => throw new InvalidOperationException("probed"));

        Assert.Equal(expected, choice.Mode);
    }

    [Fact]
    public void A_runtime_that_cannot_be_started_is_reported_as_absent_at_once()
    {
        var result = ContainerRuntimeProbe.Probe("aspireperf-no-such-runtime", TimeSpan.FromSeconds(5));

        Assert.False(result.Answers);
        Assert.Contains("aspireperf-no-such-runtime", result.Description, StringComparison.Ordinal);
    }
}
