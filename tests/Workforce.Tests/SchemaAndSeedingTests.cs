using AspirePerf.TestSupport;
using AspirePerf.Workforce.Seeding;
using Npgsql;

namespace AspirePerf.Workforce.Tests;

[Collection(InfrastructureCollection.Name)]
public sealed class SchemaAndSeedingTests(InfrastructureFixture infrastructure)
{
    [Fact]
    public async Task Migrations_apply_to_an_empty_database_with_keys_and_constraints_but_no_analytical_indexes()
    {
        var db = await infrastructure.CreateDatabaseAsync("migrate");

        await WorkforceDatabase.MigrateAsync(db);

        await using var connection = new NpgsqlConnection(db);
        await connection.OpenAsync();
        var tables = await ReadStringsAsync(connection, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1");
        var indexes = await ReadStringsAsync(connection, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1");
        var foreignKeys = await ReadStringsAsync(connection,
            "SELECT conname FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace ORDER BY 1");

        Assert.Equal(["__EFMigrationsHistory", "employers", "employment_spells", "occupations", "persons", "regions", "sectors", "seed_markers", "vacancies"],
            tables.Order(StringComparer.Ordinal));
        // Primary keys (pk_*) and the reference tables' unique codes (ak_*): nothing for analytical predicates.
        Assert.All(indexes, name => Assert.True(name.StartsWith("pk_", StringComparison.Ordinal) || name.StartsWith("ak_", StringComparison.Ordinal), name));
        Assert.Equal(7, foreignKeys.Count);
    }

    [Fact]
    public async Task Seeding_is_deterministic_for_a_seed_and_scale_and_differs_for_another_seed()
    {
        var first = await infrastructure.CreateDatabaseAsync("seed_a");
        var second = await infrastructure.CreateDatabaseAsync("seed_b");
        var other = await infrastructure.CreateDatabaseAsync("seed_c");

        var a = await WorkforceDatabase.InitializeAsync(first, seed: 7, scale: 3_000);
        var b = await WorkforceDatabase.InitializeAsync(second, seed: 7, scale: 3_000);
        var c = await WorkforceDatabase.InitializeAsync(other, seed: 8, scale: 3_000);

        Assert.Equal(SeedResult.Seeded, a.Result);
        Assert.Equal(a.Marker!.Checksum, b.Marker!.Checksum);
        Assert.Equal(a.Marker.Checksum, await WorkforceDatabase.ChecksumAsync(second));
        Assert.NotEqual(a.Marker.Checksum, c.Marker!.Checksum);
        Assert.Equal(3_000, await WorkforceDatabase.CountAsync(first, "employment_spells"));
        // The seeder drops foreign keys for the bulk load: all seven must be back, and validated.
        await using var connection = new NpgsqlConnection(first);
        await connection.OpenAsync();
        var validated = await ReadStringsAsync(connection,
            "SELECT conname FROM pg_constraint WHERE contype = 'f' AND convalidated AND connamespace = 'public'::regnamespace");
        Assert.Equal(7, validated.Count);
    }

    [Fact]
    public async Task A_seeded_database_is_not_seeded_again()
    {
        var db = await infrastructure.CreateDatabaseAsync("idempotent");
        var first = await WorkforceDatabase.InitializeAsync(db, seed: 3, scale: 2_000);
        var checksum = await WorkforceDatabase.ChecksumAsync(db);

        var again = await WorkforceDatabase.InitializeAsync(db, seed: 3, scale: 2_000);
        var different = await WorkforceDatabase.InitializeAsync(db, seed: 4, scale: 2_500);

        Assert.Equal(SeedResult.Seeded, first.Result);
        Assert.Equal(SeedResult.AlreadySeeded, again.Result);
        Assert.Equal(SeedResult.KeptDifferentSeed, different.Result);
        Assert.Equal(checksum, await WorkforceDatabase.ChecksumAsync(db));
        Assert.Equal(2_000, await WorkforceDatabase.CountAsync(db, "employment_spells"));
    }

    [Fact]
    public async Task Two_workers_starting_together_seed_once()
    {
        var db = await infrastructure.CreateDatabaseAsync("concurrent");

        var outcomes = await Task.WhenAll(
            Task.Run(() => WorkforceDatabase.InitializeAsync(db, seed: 5, scale: 3_000)),
            Task.Run(() => WorkforceDatabase.InitializeAsync(db, seed: 5, scale: 3_000)));

        Assert.Single(outcomes, o => o.Result == SeedResult.Seeded);
        Assert.Single(outcomes, o => o.Result == SeedResult.AlreadySeeded);
        Assert.Equal(3_000, await WorkforceDatabase.CountAsync(db, "employment_spells"));
        Assert.Equal(1, await WorkforceDatabase.CountAsync(db, "seed_markers"));
    }

    private static async Task<List<string>> ReadStringsAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var values = new List<string>();
        while (await reader.ReadAsync())
        {
            values.Add(reader.GetString(0));
        }
        return values;
    }
}
