using System.Collections.Concurrent;
using AspirePerf.Performance.Database.Queries;
using AspirePerf.Performance.Orchestration;

namespace AspirePerf.ApiService.Tests;

/// <summary>
/// The product's in-process step runner with the test's hands on it: it records which queries started and ended and
/// how many ran at once, and can hold a query back (honouring cancellation) or make it fail before it runs.
/// </summary>
public sealed class ProbedStepRunner(IQueryStepRunner inner) : IQueryStepRunner
{
    private int _running;
    private int _peak;

    public string Mode => inner.Mode;

    /// <summary>Query id → how long it waits before running (honouring its token).</summary>
    public ConcurrentDictionary<string, TimeSpan> Delays { get; } = new(StringComparer.Ordinal);

    /// <summary>Query ids that fail before running.</summary>
    public ConcurrentDictionary<string, bool> Failures { get; } = new(StringComparer.Ordinal);

    public ConcurrentQueue<string> Started { get; } = new();

    public ConcurrentQueue<string> Cancelled { get; } = new();

    public int Peak => Volatile.Read(ref _peak);

    public int Running => Volatile.Read(ref _running);

    public async Task<QueryStepResult> RunAsync(QueryDefinition query, IReadOnlyDictionary<string, string> inputs, bool bypassCache,
        QueryParallelism? parallelism, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        Started.Enqueue(query.Id);
        var now = Interlocked.Increment(ref _running);
        int seen;
        while (now > (seen = Volatile.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, now, seen) != seen)
        {
        }
        try
        {
            if (Delays.TryGetValue(query.Id, out var delay))
            {
                await Task.Delay(delay, cancellationToken);
            }
            if (Failures.ContainsKey(query.Id))
            {
                throw new InvalidOperationException($"Injected failure of {query.Id}.");
            }
            return await inner.RunAsync(query, inputs, bypassCache, parallelism, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Cancelled.Enqueue(query.Id);
            throw;
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }
}
