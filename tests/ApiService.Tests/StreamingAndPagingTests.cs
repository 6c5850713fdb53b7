using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AspirePerf.TestSupport;
using Npgsql;

namespace AspirePerf.ApiService.Tests;

/// <summary>
/// Rows streamed from the database cursor (NDJSON, JSON array, CSV), keyset pages with signed cursors, and compressed
/// bodies, against a seeded database and the real Redis.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class StreamingAndPagingTests(InfrastructureFixture infrastructure) : IAsyncLifetime
{
    private const string Spells = "/api/v1/queries/employment-spells";
    private string _database = null!;
    private ApiFactory _factory = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _database = await infrastructure.CreateSeededDatabaseAsync(nameof(StreamingAndPagingTests), seed: 11, scale: 2_000);
        _factory = new ApiFactory(_database, infrastructure.Redis.ConnectionString, settings: new()
        {
            ["Queries:CursorSigningKey"] = "a test secret that is long enough to sign cursors",
        });
        _client = _factory.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
    }

    [Theory]
    [InlineData("region-sector-heatmap", "asOf=2025-06-30")]
    [InlineData("wage-percentiles", "asOf=2024-12-31&minEmployees=2")]
    [InlineData("new-hires-per-month", "from=2023-01-01&sector=CON")]
    [InlineData("employment-spells", "from=2024-01-01&to=2024-06-30&limit=10000")]
    public async Task Streamed_rows_equal_the_buffered_answer_as_ndjson_json_array_and_csv(string query, string parameters)
    {
        using var buffered = JsonDocument.Parse(await _client.GetStringAsync($"/api/v1/queries/{query}?{parameters}"));
        var columns = buffered.RootElement.GetProperty("columns").EnumerateArray().Select(c => c.GetProperty("name").GetString()!).ToList();
        var expected = buffered.RootElement.GetProperty("rows").EnumerateArray()
            .Select(row => row.EnumerateArray().Select(v => v.GetRawText()).ToList()).ToList();
        Assert.NotEmpty(expected);
        Assert.True(buffered.RootElement.GetProperty("nextCursor").ValueKind == JsonValueKind.Null);
        var streamParameters = string.Join('&', parameters.Split('&').Where(p => !p.StartsWith("limit=", StringComparison.Ordinal)));

        var ndjson = await StreamAsync($"/api/v1/queries/{query}/rows?{streamParameters}", "application/x-ndjson");
        Assert.Equal("application/x-ndjson", ndjson.MediaType);
        var lines = ndjson.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(expected, lines.Select(line => Values(JsonDocument.Parse(line).RootElement, columns)));

        var array = await StreamAsync($"/api/v1/queries/{query}/rows?{streamParameters}", "application/json");
        Assert.Equal("application/json", array.MediaType);
        using var document = JsonDocument.Parse(array.Text);
        Assert.Equal(expected, document.RootElement.EnumerateArray().Select(row => Values(row, columns)));

        var csv = await StreamAsync($"/api/v1/queries/{query}/rows?{streamParameters}", "text/csv");
        Assert.Equal("text/csv", csv.MediaType);
        var csvLines = csv.Text.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(string.Join(',', columns), csvLines[0]);
        Assert.Equal(expected.Select(row => string.Join(',', row.Select(v => v == "null" ? "" : v.Trim('"')))), csvLines.Skip(1));
    }

    [Fact]
    public async Task Streamed_spells_equal_a_direct_database_read()
    {
        var ndjson = await StreamAsync($"{Spells}/rows?sector=CON", "application/x-ndjson");
        var streamed = ndjson.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            using var row = JsonDocument.Parse(line);
            var r = row.RootElement;
            return (r.GetProperty("spell_id").GetInt64(), r.GetProperty("employer_id").GetInt32(), r.GetProperty("start_date").GetString(),
                r.GetProperty("end_date").ValueKind == JsonValueKind.Null ? null : r.GetProperty("end_date").GetString(), r.GetProperty("monthly_wage").GetDecimal());
        }).ToList();

        var direct = new List<(long, int, string?, string?, decimal)>();
        await using (var connection = new NpgsqlConnection(_database))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("""
                SELECT es.id, es.employer_id, es.start_date, es.end_date, es.monthly_wage
                FROM employment_spells es JOIN employers e ON e.id = es.employer_id JOIN sectors s ON s.id = e.sector_id
                WHERE s.code = 'CON' ORDER BY es.id
                """, connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                direct.Add((reader.GetInt64(0), reader.GetInt32(1), Day(reader.GetFieldValue<DateOnly>(2)),
                    reader.IsDBNull(3) ? null : Day(reader.GetFieldValue<DateOnly>(3)), reader.GetDecimal(4)));
            }
        }
        Assert.True(direct.Count > 100, $"only {direct.Count} CON spells");
        Assert.Equal(direct, streamed);
    }

    [Fact]
    public async Task Paging_with_limit_and_cursor_walks_every_row_exactly_once()
    {
        var ids = new List<long>();
        var url = $"{Spells}?from=2020-01-01&to=2021-12-31&limit=97";
        var pages = 0;
        while (url is not null)
        {
            using var response = await _client.GetAsync(url);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var page = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var rows = page.RootElement.GetProperty("rows").EnumerateArray().ToList();
            Assert.InRange(rows.Count, 1, 97);
            ids.AddRange(rows.Select(r => r[0].GetInt64()));
            var next = page.RootElement.GetProperty("nextCursor");
            var link = response.Headers.TryGetValues("Link", out var links) ? links.Single() : null;
            if (next.ValueKind == JsonValueKind.Null)
            {
                Assert.Null(link);
                url = null;
            }
            else
            {
                Assert.Equal(97, rows.Count);
                Assert.NotNull(link);
                Assert.EndsWith("; rel=\"next\"", link, StringComparison.Ordinal);
                url = link[1..link.IndexOf('>', StringComparison.Ordinal)];
                Assert.Contains("cursor=" + Uri.EscapeDataString(next.GetString()!), url, StringComparison.Ordinal);
                Assert.Contains("limit=97", url, StringComparison.Ordinal);
            }
            pages++;
        }

        var expected = new List<long>();
        await using (var connection = new NpgsqlConnection(_database))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT id FROM employment_spells WHERE start_date BETWEEN '2020-01-01' AND '2021-12-31' ORDER BY id", connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                expected.Add(reader.GetInt64(0));
            }
        }
        Assert.True(pages > 3, $"{expected.Count} rows made only {pages} pages");
        Assert.Equal(expected, ids);
    }

    [Fact]
    public async Task A_tampered_foreign_or_malformed_cursor_and_a_bad_limit_are_400_problems_naming_them()
    {
        using var first = JsonDocument.Parse(await _client.GetStringAsync($"{Spells}?sector=CON&limit=10"));
        var cursor = first.RootElement.GetProperty("nextCursor").GetString()!;
        using (var ok = await _client.GetAsync($"{Spells}?sector=CON&limit=10&cursor={Uri.EscapeDataString(cursor)}"))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        var bytes = Convert.FromBase64String(cursor.Replace('-', '+').Replace('_', '/') + new string('=', (4 - cursor.Length % 4) % 4));
        bytes[3] ^= 1; // another position, same tag
        var tampered = Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        foreach (var (url, parameter) in new[]
        {
            ($"{Spells}?sector=CON&cursor={tampered}", "cursor"),
            ($"{Spells}?sector=EDU&cursor={cursor}", "cursor"), // another query's parameters
            ($"{Spells}/rows?sector=EDU&cursor={cursor}", "cursor"),
            ($"{Spells}?sector=CON&cursor=not-a-cursor", "cursor"),
            ($"{Spells}?sector=CON&cursor=%00%ff", "cursor"), // a control character and a non-ASCII one
            ($"{Spells}?sector=CON&cursor={new string('A', 5000)}", "cursor"),
            ($"{Spells}?sector=CON&cursor={cursor}&cursor={cursor}", "cursor"),
            ($"{Spells}?limit=0", "limit"),
            ($"{Spells}?limit=10001", "limit"),
            ($"{Spells}?limit=ten", "limit"),
            ($"{Spells}/rows?limit=10", "limit"), // a stream has no pages
            ("/api/v1/queries/region-sector-heatmap?cursor=abc", "cursor"), // an aggregate has no pages
        })
        {
            using var response = await _client.GetAsync(url);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{url}: {response.StatusCode}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(parameter, out _), $"{url}: {problem.RootElement}");
        }

        // The same cursor continues the stream after that page.
        var rest = await StreamAsync($"{Spells}/rows?sector=CON&cursor={Uri.EscapeDataString(cursor)}", "application/x-ndjson");
        using var firstRest = JsonDocument.Parse(rest.Text.Split('\n')[0]);
        Assert.True(first.RootElement.GetProperty("rows")[9][0].GetInt64() < firstRest.RootElement.GetProperty("spell_id").GetInt64());
    }

    [Fact]
    public async Task An_aggregate_too_large_to_buffer_is_a_422_pointing_at_its_stream_which_has_every_row()
    {
        await using var factory = new ApiFactory(_database, infrastructure.Redis.ConnectionString, settings: new() { ["Queries:MaxRows"] = "5" });
        using var client = factory.CreateClient();

        using var response = await client.GetAsync("/api/v1/queries/region-sector-heatmap");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("/api/v1/queries/region-sector-heatmap/rows", Assert.Single(response.Headers.GetValues("Link")), StringComparison.Ordinal);

        using var stream = await client.GetAsync("/api/v1/queries/region-sector-heatmap/rows");
        using var rows = JsonDocument.Parse(await stream.Content.ReadAsStringAsync());
        Assert.True(rows.RootElement.GetArrayLength() > 5);
    }

    [Fact]
    public async Task Accept_choosing_no_streamed_form_is_a_406_problem()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{Spells}/rows");
        request.Headers.Accept.ParseAdd("image/png");
        using var response = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotAcceptable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_stream_the_client_abandons_is_cancelled_on_the_server()
    {
        using var response = await _client.GetAsync($"{Spells}/rows", HttpCompletionOption.ResponseHeadersRead);
        await using (var body = await response.Content.ReadAsStreamAsync())
        {
            var buffer = new byte[4096];
            Assert.True(await body.ReadAsync(buffer) > 0);
        }
        response.Dispose();

        // No statement of the stream is left running on the server.
        await Eventually.ReturnsAsync(async () =>
        {
            await using var connection = new NpgsqlConnection(_database);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state <> 'idle' AND query LIKE '%es.id AS spell_id%' AND pid <> pg_backend_pid()", connection);
            return (long)(await command.ExecuteScalarAsync())!;
        }, running => running == 0, TimeSpan.FromSeconds(30), "the end of the abandoned stream's statement");
    }

    [Theory]
    [InlineData("br")]
    [InlineData("gzip")]
    [InlineData("identity")]
    public async Task Cached_answers_streams_and_problems_decompress_to_the_same_bytes(string encoding)
    {
        const string answer = "/api/v1/queries/employment-spells?from=2024-01-01&limit=500";
        var identity = await RawAsync(answer, null);
        Assert.Null(identity.Encoding);
        var stream = await RawAsync($"{Spells}/rows?from=2025-01-01", null);

        // The first compressed request may compress; the second is a cache hit served from the stored compressed form.
        for (var i = 0; i < 2; i++)
        {
            var compressed = await RawAsync(answer, encoding);
            Assert.Equal(encoding == "identity" ? null : encoding, compressed.Encoding);
            Assert.Equal(identity.Body, Decompress(compressed.Body, compressed.Encoding));
            Assert.Contains("Accept-Encoding", compressed.Vary);
            if (encoding != "identity")
            {
                Assert.True(compressed.Body.Length < identity.Body.Length / 2, $"{encoding}: {compressed.Body.Length} of {identity.Body.Length} bytes");
                Assert.NotEqual(identity.ETag, compressed.ETag);
            }
        }

        var streamed = await RawAsync($"{Spells}/rows?from=2025-01-01", encoding);
        Assert.Equal(encoding == "identity" ? null : encoding, streamed.Encoding);
        Assert.Equal(stream.Body, Decompress(streamed.Body, streamed.Encoding));

        var problem = await RawAsync($"{Spells}?limit=0&sector={new string('X', 1500)}", encoding);
        using var parsed = JsonDocument.Parse(Decompress(problem.Body, problem.Encoding));
        Assert.True(parsed.RootElement.GetProperty("errors").TryGetProperty("limit", out _));

        if (encoding != "identity")
        {
            using var statistics = JsonDocument.Parse(await _client.GetStringAsync("/api/v1/perf/compression"));
            var rows = statistics.RootElement.GetProperty("encodings").EnumerateArray()
                .Where(r => r.GetProperty("encoding").GetString() == encoding).ToList();
            Assert.Contains(rows, r => r.GetProperty("source").GetString() == "cached" && r.GetProperty("bytesAfter").GetInt64() < r.GetProperty("bytesBefore").GetInt64());
            Assert.Contains(rows, r => r.GetProperty("source").GetString() == "dynamic" && r.GetProperty("responses").GetInt64() >= 1);
        }
    }

    [Fact]
    public async Task A_compressed_answer_has_its_own_strong_etag_and_a_304()
    {
        const string answer = "/api/v1/queries/employment-spells?from=2023-01-01&limit=300";
        var first = await RawAsync(answer, "br");
        Assert.StartsWith("\"", first.ETag, StringComparison.Ordinal);
        using var request = new HttpRequestMessage(HttpMethod.Get, answer);
        request.Headers.AcceptEncoding.ParseAdd("br");
        request.Headers.TryAddWithoutValidation("If-None-Match", first.ETag);
        using var client = _factory.CreateDefaultClient();
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Streams_and_their_errors_carry_the_security_headers_and_no_store()
    {
        using var stream = await _client.GetAsync($"{Spells}/rows?from=2025-06-01", HttpCompletionOption.ResponseHeadersRead);
        using var invalid = await _client.GetAsync($"{Spells}/rows?from=yesterday");
        foreach (var response in new[] { stream, invalid })
        {
            Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
            Assert.Contains("frame-ancestors 'none'", Assert.Single(response.Headers.GetValues("Content-Security-Policy")), StringComparison.Ordinal);
            Assert.True(response.Headers.Contains("Referrer-Policy"));
        }
        Assert.True(stream.Headers.CacheControl?.NoStore);
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
    }

    private async Task<(string Text, string? MediaType)> StreamAsync(string url, string accept)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.ParseAdd(accept);
        using var response = await _client.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadAsStringAsync(), response.Content.Headers.ContentType?.MediaType);
    }

    /// <summary>The raw bytes (TestServer's client decompresses nothing), their encoding and validators.</summary>
    private async Task<(byte[] Body, string? Encoding, string ETag, string Vary)> RawAsync(string url, string? acceptEncoding)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (acceptEncoding is not null)
        {
            request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue(acceptEncoding));
        }
        using var response = await _client.SendAsync(request);
        return (await response.Content.ReadAsByteArrayAsync(), response.Content.Headers.ContentEncoding.SingleOrDefault(),
            response.Headers.ETag?.Tag ?? "", string.Join(',', response.Headers.Vary));
    }

    private static byte[] Decompress(byte[] body, string? encoding)
    {
        if (encoding is null)
        {
            return body;
        }
        using var input = new MemoryStream(body);
        using Stream decompressor = encoding == "br" ? new BrotliStream(input, CompressionMode.Decompress) : new GZipStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        decompressor.CopyTo(output);
        return output.ToArray();
    }

    private static List<string> Values(JsonElement row, List<string> columns) =>
        [.. columns.Select(c => row.GetProperty(c).GetRawText())];

    private static string Day(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}
