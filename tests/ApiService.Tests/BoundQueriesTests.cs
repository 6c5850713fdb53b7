using AspirePerf.ApiService.Apis;
using AspirePerf.Performance.Caching;
using AspirePerf.Performance.Database.Queries;

namespace AspirePerf.ApiService.Tests;

/// <summary>The memo of bound query strings stays bounded whatever a client sends.</summary>
public sealed class BoundQueriesTests
{
    [Fact]
    public void Distinct_query_strings_past_capacity_never_grow_the_memo_beyond_it()
    {
        var memo = new BoundQueries();
        var query = new QueryDefinition("q", "Q", "", QueryKind.Aggregate, "SELECT 1");
        var bound = new BoundQuery(query, new BoundParameters(new Dictionary<string, object?>()), null, new CacheRequest("k", "aggregate", "q", []));

        for (var i = 0; i < BoundQueries.Capacity * 3 + 7; i++)
        {
            memo.Add($"q?i={i}", bound);
            Assert.InRange(memo.Count, 1, BoundQueries.Capacity);
        }
        Assert.True(memo.TryGet($"q?i={BoundQueries.Capacity * 3 + 6}", out var last));
        Assert.Same(bound, last);
        Assert.False(memo.TryGet("q?i=0", out _));
    }
}
