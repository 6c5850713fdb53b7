using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace AspirePerf.Performance.Jobs;

/// <summary>How the processor runs one job type: builds typed contexts, then calls the handler (or batch handler) in a scope.</summary>
public sealed class JobHandlerRegistration
{
    private JobHandlerRegistration(string type, bool batch,
        Func<LeasedJob, IJobProgressSink, JobContext> createContext,
        Func<IServiceProvider, IReadOnlyList<JobContext>, CancellationToken, Task> invoke)
    {
        Type = type;
        IsBatch = batch;
        CreateContext = createContext;
        Invoke = invoke;
    }

    public string Type { get; }

    public bool IsBatch { get; }

    internal Func<LeasedJob, IJobProgressSink, JobContext> CreateContext { get; }

    internal Func<IServiceProvider, IReadOnlyList<JobContext>, CancellationToken, Task> Invoke { get; }

    public static JobHandlerRegistration For<TPayload, THandler>(string type) where THandler : IJobHandler<TPayload> => new(type, false,
        Context<TPayload>,
        (services, jobs, ct) => services.GetRequiredService<THandler>().HandleAsync((JobContext<TPayload>)jobs[0], ct));

    public static JobHandlerRegistration ForBatch<TPayload, THandler>(string type) where THandler : IJobBatchHandler<TPayload> => new(type, true,
        Context<TPayload>,
        (services, jobs, ct) => services.GetRequiredService<THandler>().HandleAsync([.. jobs.Cast<JobContext<TPayload>>()], ct));

    private static JobContext<TPayload> Context<TPayload>(LeasedJob job, IJobProgressSink sink)
    {
        var payload = JsonSerializer.Deserialize<TPayload>(job.Payload, JobCatalog.PayloadJson)
            ?? throw new JsonException($"The payload of job {job.Id} is null.");
        return new JobContext<TPayload>(job, payload, sink);
    }
}
