using AspirePerf.Performance.Profiling;

namespace AspirePerf.Performance.Tests;

public sealed class SqlFingerprintTests
{
    [Theory]
    [InlineData("SELECT * FROM t WHERE id = 5", "select * from t where id = ?")]
    [InlineData("SELECT extract(YEAR FROM d), extract($2 FROM d) FROM t", "select extract(? from d), extract(? from d) from t")]
    [InlineData("select *\n  from t\twhere id=$1;", "select * from t where id = ?")]
    [InlineData("SELECT name FROM t WHERE name = 'O''Brien' AND x = E'a\\'b'", "select name from t where name = ? and x = ?")]
    [InlineData("SELECT $$a 'quoted' $ body$$, $fn$x$fn$", "select ?, ?")]
    [InlineData("SELECT * FROM t WHERE a = -5 AND b > - 2.5e3 AND c = x - 1", "select * from t where a = ? and b > ? and c = x - ?")]
    [InlineData("SELECT * FROM t WHERE id IN (1, 2, 3, 4, 5)", "select * from t where id in(?)")]
    [InlineData("SELECT * FROM t WHERE id IN ($1,$2)", "select * from t where id in(?)")]
    [InlineData("SELECT * FROM t WHERE id = ANY(ARRAY[1,2,3])", "select * from t where id = any(array[?])")]
    [InlineData("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')", "insert into t(a, b) values(?)")]
    [InlineData("SELECT /* hint */ a -- trailing\nFROM \"MixedCase\".t1", "select a from \"MixedCase\".t1")]
    [InlineData("SELECT count(*)::int FROM t WHERE d >= @from AND s = @sector", "select count(*)::int from t where d >= ? and s = ?")]
    [InlineData("SELECT t1.a FROM t1 JOIN t2 ON t2.id=t1.id", "select t1.a from t1 join t2 on t2.id = t1.id")]
    public void Normalizes_literals_parameters_whitespace_and_lists(string sql, string expected)
    {
        Assert.Equal(expected, SqlFingerprint.Normalize(sql));
    }

    [Fact]
    public void In_lists_of_any_length_share_one_fingerprint()
    {
        var hashes = Enumerable.Range(1, 50)
            .Select(n => SqlFingerprint.Of($"SELECT * FROM t WHERE id IN ({string.Join(", ", Enumerable.Range(1, n))})").Hash)
            .Distinct()
            .ToList();

        Assert.Single(hashes);
    }

    [Fact]
    public void Different_statements_get_different_fingerprints_and_the_hash_is_stable()
    {
        var a = SqlFingerprint.Of("SELECT * FROM t WHERE id = 1");
        var b = SqlFingerprint.Of("SELECT * FROM t WHERE name = 1");
        var c = SqlFingerprint.Of("SELECT * FROM u WHERE id = 1");

        Assert.Equal(3, new[] { a.Hash, b.Hash, c.Hash }.Distinct().Count());
        Assert.Matches("^[0-9a-f]{16}$", a.Hash);
        Assert.Equal(a.Hash, SqlFingerprint.Hash("select * from t where id = ?"));
    }
}
