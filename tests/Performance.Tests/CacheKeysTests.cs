using AspirePerf.Performance.Caching;

namespace AspirePerf.Performance.Tests;

public sealed class CacheKeysTests
{
    private static string Key(string operation, params (string Name, object? Value)[] parameters) =>
        CacheKeys.For("ns", 3, operation, parameters.Select(p => new KeyValuePair<string, object?>(p.Name, p.Value)));

    [Fact]
    public void Shape_is_namespace_version_operation_hash()
    {
        var key = Key("wage-histogram", ("asOf", new DateOnly(2025, 6, 30)));

        Assert.Matches("^ns:v3:wage-histogram:[0-9a-f]{32}$", key);
    }

    [Fact]
    public void Parameter_order_and_name_casing_do_not_change_the_key()
    {
        Assert.Equal(
            Key("q", ("from", new DateOnly(2024, 1, 1)), ("sector", "CON"), ("limit", 20L)),
            Key("q", ("LIMIT", 20L), ("Sector", "CON"), ("FROM", new DateOnly(2024, 1, 1))));
    }

    [Theory]
    [InlineData(20L, 20)]
    [InlineData(1.5, 1.50)]
    [InlineData(100L, 100.0)]
    public void Numeric_formatting_does_not_change_the_key(object a, object b)
    {
        Assert.Equal(Key("q", ("n", a)), Key("q", ("n", b)));
        Assert.Equal(Key("q", ("n", 1.50m)), Key("q", ("n", 1.5m)));
    }

    [Fact]
    public void Distinct_parameters_never_share_a_key()
    {
        var keys = new[]
        {
            Key("q"),
            Key("q", ("a", null)),
            Key("q", ("a", 1L)),
            Key("q", ("a", "1")),
            Key("q", ("a", true)),
            Key("q", ("a", "true")),
            Key("q", ("a", new DateOnly(2024, 1, 1))),
            Key("q", ("a", "2024-01-01")),
            Key("q", ("a", 1L), ("b", 2L)),
            Key("q", ("a", 2L), ("b", 1L)),
            Key("q", ("ab", 1L)),
            Key("q", ("a", "x\nb=s:1:y")),
            Key("q", ("a", "x"), ("b", "y")),
            Key("r", ("a", 1L)),
        };

        Assert.Equal(keys.Length, keys.Distinct().Count());
    }

    [Fact]
    public void Keys_are_bounded_whatever_the_operation_and_parameters()
    {
        var key = Key(new string('x', 5000), ("text", new string('y', 100_000)));

        Assert.True(key.Length <= 2 + 1 + 5 + 1 + 17 + 1 + 32, key);
        Assert.NotEqual(key, Key(new string('x', 4999), ("text", new string('y', 100_000))));
    }

    [Fact]
    public void The_same_input_always_gives_the_same_key()
    {
        Assert.Equal(Key("q", ("a", 1L)), Key("q", ("a", 1L)));
    }
}
