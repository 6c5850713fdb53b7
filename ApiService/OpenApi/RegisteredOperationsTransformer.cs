using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using AspirePerf.Performance.Database.Queries;
using AspirePerf.Performance.Orchestration;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;

namespace AspirePerf.ApiService.OpenApi;

/// <summary>
/// Registered queries and analyses take their parameters from the query string, each with its own schema, so one
/// generic <c>{id}</c> operation cannot describe them. This adds, beside the generic operations (any id, for callers that
/// read the schemas at run time from the listings), one operation per registered query (its buffered answer and its
/// row stream) and per registered analysis, with every parameter typed and bounded as the registry validates it, so a
/// generated client gets a typed method per query. Generated from the registries on every request for the document.
/// </summary>
internal sealed class RegisteredOperationsTransformer(
    QueryRegistry queries,
    AnalysisRegistry analyses,
    IOptions<QueryExecutionOptions> queryOptions,
    IOptions<OrchestrationOptions> orchestration) : IOpenApiDocumentTransformer
{
    public const string QueriesPath = "/api/v1/queries";
    public const string AnalysesPath = "/api/v1/analyses";
    private const string RowSchemaSuffix = "Row";

    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        var paths = document.Paths;
        var run = Operation(paths, $"{QueriesPath}/{{id}}");
        var rows = Operation(paths, $"{QueriesPath}/{{id}}/rows");
        var analysis = Operation(paths, $"{AnalysesPath}/{{id}}");
        var limits = queryOptions.Value;

        DescribeRunQuery(run, limits);
        DescribeStream(document, rows);
        DescribeRunAnalysis(analysis);
        SetId(run, [.. queries.All.Select(q => q.Id)], "The query's id (GET /api/v1/queries lists them).");
        SetId(rows, [.. queries.All.Select(q => q.Id)], "The query's id (GET /api/v1/queries lists them).");
        SetId(analysis, [.. analyses.All.Select(a => a.Id)], "The analysis's id (GET /api/v1/analyses lists them).");
        run.Parameters!.Add(Limit(limits));
        run.Parameters.Add(Cursor("Listings only: the previous page's `nextCursor`, unchanged (with the same parameters)."));
        rows.Parameters!.Add(Cursor("Listings only: continue after the page this cursor ends (a `nextCursor` of the buffered answer)."));
        analysis.Parameters!.Add(Deadline());

        foreach (var query in queries.All)
        {
            var name = Pascal(query.Id);
            var listing = query.Keyset is not null;
            var parameters = query.Parameters.Select(p => Parameter(p)).ToList();

            // A listing answers pages; a query bounded below Queries:MaxRows by construction never has too many rows.
            var neverTooMany = listing || query.MaxRowCount <= limits.MaxRows;
            var runOne = Specialize(run, $"Run{name}", query.Title, Describe(query.Description, query.Rules), parameters,
                drop: neverTooMany ? ["404", "422"] : ["404"]);
            if (listing)
            {
                runOne.Parameters!.Add(Limit(limits));
                runOne.Parameters.Add(Cursor("The previous page's `nextCursor` (or the `Link rel=\"next\"` URL's), unchanged, with the same parameters."));
            }
            Add(paths, $"{QueriesPath}/{query.Id}", runOne);

            var rowSchema = RowSchema(document, name, query);
            var streamOne = Specialize(rows, $"Stream{name}Rows", $"{query.Title}: every row, streamed",
                Describe(query.Description, query.Rules), [.. parameters, .. listing
                    ? new[] { Cursor("Continue after the page this cursor ends (a `nextCursor` of the buffered answer).") }
                    : []], drop: ["404"]);
            streamOne.Responses!["200"] = StreamResponse(document, rowSchema, query);
            Add(paths, $"{QueriesPath}/{query.Id}/rows", streamOne);
        }
        foreach (var definition in analyses.All)
        {
            var runOne = Specialize(analysis, $"Run{Pascal(definition.Id)}Analysis", definition.Title,
                Describe(definition.Description, definition.Rules), [.. definition.Parameters.Select(p => Parameter(p)), Deadline()], drop: ["404"]);
            Add(paths, $"{AnalysesPath}/{definition.Id}", runOne);
        }
        return Task.CompletedTask;
    }

    private static OpenApiOperation Operation(OpenApiPaths paths, string path) =>
        paths.TryGetValue(path, out var item) && item.Operations?.TryGetValue(HttpMethod.Get, out var operation) == true
            ? operation
            : throw new InvalidOperationException($"The document has no GET {path}: the registered operations are described from it.");

    private static void Add(OpenApiPaths paths, string path, OpenApiOperation operation) =>
        paths[path] = new OpenApiPathItem { Operations = new() { [HttpMethod.Get] = operation } };

    private static void SetId(OpenApiOperation operation, IReadOnlyList<string> ids, string description)
    {
        var id = operation.Parameters!.OfType<OpenApiParameter>().Single(p => p.Name == "id");
        id.Description = description + " Each also has an operation of its own, with its parameters typed.";
        id.Schema = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [.. ids.Select(i => (JsonNode)JsonValue.Create(i))] };
        id.Example = JsonValue.Create(ids[0]);
    }

    private static void DescribeRunQuery(OpenApiOperation run, QueryExecutionOptions limits)
    {
        run.Description = "Runs any registered query by id, its parameters in the query string as `GET /api/v1/queries` describes them " +
            "(each query also has an operation of its own below, with those parameters typed). " + run.Description;
        var ok = (OpenApiResponse)run.Responses!["200"];
        ok.Description = "The answer: columns, rows (arrays in column order), the values the query ran with (defaults included) and, for a listing, " +
            $"the next page's cursor. An aggregate has at most {limits.MaxRows} rows (Queries:MaxRows).";
        ok.Headers = new Dictionary<string, IOpenApiHeader>
        {
            ["ETag"] = Header("A strong entity tag of the bytes sent (one per content encoding); `If-None-Match` with it gives 304.", "\"3q2-7w\""),
            ["Cache-Control"] = Header("`public, max-age=N` (what is left of the cached entry's time to live; `private` when reads need a key), " +
                "or `no-cache` when the answer was not cached or is stale.", "public, max-age=270"),
            ["X-Cache"] = Header("HIT, MISS, STALE (recomputing failed: the last good answer) or BYPASS.", "HIT"),
            ["X-Cache-Key"] = Header("The cache entry's key (an operator can invalidate it).", "aspireperf:v3:wage-percentiles:9f3c…"),
            ["X-Exec-Time"] = Header("What computing the answer cost, in milliseconds.", "12.4"),
            ["Age"] = Header("Seconds since the answer was computed (cached answers only).", "30"),
            ["Link"] = Header("A listing's next page: `<url>; rel=\"next\"`.", "</api/v1/queries/employment-spells?cursor=…>; rel=\"next\""),
        };
        ok.Content!["application/json"].Example = new JsonObject
        {
            ["queryId"] = "wage-percentiles",
            ["title"] = "Wage percentiles by occupation group and sector",
            ["parameters"] = new JsonObject { ["asOf"] = "2024-12-31", ["sector"] = "FIN" },
            ["columns"] = new JsonArray(new JsonObject { ["name"] = "sector", ["type"] = "text" }, new JsonObject { ["name"] = "p50", ["type"] = "number" }),
            ["rows"] = new JsonArray(new JsonArray("FIN", 4150.0)),
            ["rowCount"] = 1,
            ["nextCursor"] = null,
        };
        run.Parameters!.Add(new OpenApiParameter
        {
            Name = "If-None-Match",
            In = ParameterLocation.Header,
            Description = "An entity tag of a copy the client holds: 304 with no body while it is still the current answer.",
            Schema = new OpenApiSchema { Type = JsonSchemaType.String },
            Example = JsonValue.Create("\"3q2-7w\""),
        });
    }

    private static void DescribeStream(OpenApiDocument document, OpenApiOperation rows)
    {
        var generic = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "One row: each column by name.",
            AdditionalProperties = new OpenApiSchema(),
        };
        document.Components!.Schemas!["QueryRow"] = generic;
        rows.Responses!["200"] = StreamResponse(document, new OpenApiSchemaReference("QueryRow", document), null);
    }

    private static OpenApiResponse StreamResponse(OpenApiDocument document, IOpenApiSchema row, QueryDefinition? query)
    {
        _ = document;
        var columns = query?.Columns.Select(c => c.Name).ToList() ?? ["sector", "headcount"];
        var values = query?.Columns.Select(c => ExampleCell(c.Type)).ToList() ?? [JsonValue.Create("FIN"), JsonValue.Create(1200)];
        var line = new JsonObject();
        for (var i = 0; i < columns.Count; i++)
        {
            line[columns[i]] = values[i]?.DeepClone();
        }
        return new OpenApiResponse
        {
            Description = "Every row, written as the database cursor yields it, in the form the `Accept` header asks for (JSON array by default). " +
                "A failure after the first row aborts the connection, so a cut-off stream is never mistaken for a complete one.",
            Headers = new Dictionary<string, IOpenApiHeader>
            {
                ["Cache-Control"] = Header("Always `no-store`: a stream is never cached.", "no-store"),
            },
            Content = new Dictionary<string, OpenApiMediaType>
            {
                ["application/json"] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.Array, Items = row }, Example = new JsonArray(line.DeepClone()) },
                ["application/x-ndjson"] = new()
                {
                    Schema = new OpenApiSchema
                    {
                        Type = JsonSchemaType.String,
                        Description = "Newline-delimited JSON: one row object per line, as in the `application/json` array.",
                    },
                    Example = JsonValue.Create(line.ToJsonString() + "\n"),
                },
                ["text/csv"] = new()
                {
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, Description = "RFC 4180 CSV: a header row of column names, then one line per row." },
                    Example = JsonValue.Create(string.Join(',', columns) + "\r\n" + string.Join(',', values.Select(v => v?.ToString())) + "\r\n"),
                },
            },
        };
    }

    private static void DescribeRunAnalysis(OpenApiOperation analysis)
    {
        var ok = (OpenApiResponse)analysis.Responses!["200"];
        ok.Description = "Complete or partial: every step's status, timing, cache outcome and rows. A complete answer is cached.";
        ok.Headers = new Dictionary<string, IOpenApiHeader>
        {
            ["X-Analysis-Status"] = Header("complete or partial.", "complete"),
            ["X-Cache"] = Header("HIT, MISS or STALE for the whole analysis (each query step goes through the query cache either way).", "MISS"),
            ["X-Exec-Time"] = Header("What the run cost, in milliseconds (complete answers).", "85.2"),
            ["ETag"] = Header("The entity tag of a complete answer.", "\"a81-4f\""),
        };
    }

    private static OpenApiOperation Specialize(OpenApiOperation generic, string operationId, string summary, string description,
        IEnumerable<IOpenApiParameter> parameters, IReadOnlyCollection<string> drop)
    {
        var responses = new OpenApiResponses();
        foreach (var (status, response) in generic.Responses!.Where(r => !drop.Contains(r.Key)))
        {
            responses[status] = response;
        }
        return new OpenApiOperation
        {
            OperationId = operationId,
            Summary = summary,
            Description = description + AccessNote(generic),
            Tags = generic.Tags,
            Parameters = [.. parameters, .. generic.Parameters!.Where(p => p.In == ParameterLocation.Header)],
            Responses = responses,
            Security = generic.Security,
            Extensions = generic.Extensions is null ? null : new Dictionary<string, IOpenApiExtension>(generic.Extensions),
        };
    }

    // The generic operation's description ends with who may call it (ApiKeySecurityTransformer); the specialized one keeps that line.
    private static string AccessNote(OpenApiOperation generic) =>
        generic.Description?.LastIndexOf("\n\nNeeds ", StringComparison.Ordinal) is { } at and >= 0 ? generic.Description[at..] : "";

    private static string Describe(string description, IReadOnlyList<QueryRule> rules) => rules.Count == 0
        ? description
        : description + " Rules across parameters: " + string.Join(" ", rules.Select(r => $"`{r.Parameter}`: {r.Message}"));

    private static OpenApiParameter Parameter(QueryParameter p)
    {
        var schema = new OpenApiSchema();
        switch (p.Type)
        {
            case QueryParameterType.Integer:
                schema.Type = JsonSchemaType.Integer;
                schema.Format = "int64";
                schema.Minimum = p.Minimum?.ToString(CultureInfo.InvariantCulture);
                schema.Maximum = p.Maximum?.ToString(CultureInfo.InvariantCulture);
                break;
            case QueryParameterType.Decimal:
                schema.Type = JsonSchemaType.Number;
                schema.Format = "decimal";
                schema.Minimum = p.Minimum?.ToString(CultureInfo.InvariantCulture);
                schema.Maximum = p.Maximum?.ToString(CultureInfo.InvariantCulture);
                break;
            case QueryParameterType.Date:
                schema.Type = JsonSchemaType.String;
                schema.Format = "date";
                break;
            case QueryParameterType.Boolean:
                schema.Type = JsonSchemaType.Boolean;
                break;
            default:
                schema.Type = JsonSchemaType.String;
                schema.MaxLength = p.MaxLength;
                if (p.AllowedValues is { Count: > 0 } allowed)
                {
                    schema.Enum = [.. allowed.Select(a => (JsonNode)JsonValue.Create(a))];
                }
                break;
        }
        if (p.Default is { } value)
        {
            schema.Default = Json(value);
        }
        var description = new StringBuilder(p.Description);
        if (p.MinimumDate is { } from && p.MaximumDate is { } to)
        {
            description.Append(CultureInfo.InvariantCulture, $" From {from:yyyy-MM-dd} to {to:yyyy-MM-dd}.");
        }
        if (p.AllowedValues is { Count: > 0 })
        {
            description.Append(" Matched ignoring case.");
        }
        return new OpenApiParameter
        {
            Name = p.Name,
            In = ParameterLocation.Query,
            Required = p.Required,
            Description = description.ToString(),
            Schema = schema,
            Example = Json(p.Example ?? p.Default ?? ExampleOf(p)),
        };
    }

    private static object ExampleOf(QueryParameter p) => p.Type switch
    {
        QueryParameterType.Integer => (long)(p.Minimum ?? 1),
        QueryParameterType.Decimal => p.Minimum ?? 1m,
        QueryParameterType.Date => p.MaximumDate ?? new DateOnly(2024, 12, 31),
        QueryParameterType.Boolean => true,
        _ => p.AllowedValues is { Count: > 0 } allowed ? allowed[0] : "text",
    };

    private static JsonValue Json(object value) => value switch
    {
        DateOnly date => JsonValue.Create(date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)),
        long l => JsonValue.Create(l),
        int i => JsonValue.Create(i),
        decimal m => JsonValue.Create(m),
        bool b => JsonValue.Create(b),
        _ => JsonValue.Create(Convert.ToString(value, CultureInfo.InvariantCulture) ?? ""),
    };

    private static OpenApiParameter Limit(QueryExecutionOptions limits) => new()
    {
        Name = "limit",
        In = ParameterLocation.Query,
        Description = "Listings only: rows per page (Queries:MaxRows at most, Queries:DefaultPageSize when omitted).",
        Schema = new OpenApiSchema
        {
            Type = JsonSchemaType.Integer,
            Format = "int32",
            Minimum = "1",
            Maximum = limits.MaxRows.ToString(CultureInfo.InvariantCulture),
            Default = JsonValue.Create(limits.DefaultPageSize),
        },
        Example = JsonValue.Create(Math.Min(100, limits.MaxRows)),
    };

    private static OpenApiParameter Cursor(string description) => new()
    {
        Name = "cursor",
        In = ParameterLocation.Query,
        Description = description + " Opaque and signed: a cursor of another query or other parameters is a 400 naming `cursor`.",
        Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 512 },
    };

    private OpenApiParameter Deadline()
    {
        var settings = orchestration.Value;
        return new OpenApiParameter
        {
            Name = "deadlineMs",
            In = ParameterLocation.Query,
            Description = "Bounds the whole run: steps still running then are timed out and their dependents skipped (Orchestration:MaxDeadline at most). " +
                "Longer analyses run as jobs of type `analysis`.",
            Schema = new OpenApiSchema
            {
                Type = JsonSchemaType.Integer,
                Format = "int64",
                Minimum = "1",
                Maximum = ((long)settings.MaxDeadline.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
                Default = JsonValue.Create((long)settings.DefaultDeadline.TotalMilliseconds),
            },
            Example = JsonValue.Create(10_000),
        };
    }

    private static OpenApiSchemaReference RowSchema(OpenApiDocument document, string name, QueryDefinition query)
    {
        var schema = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = $"One row of {query.Id}.",
            Properties = query.Columns.ToDictionary(c => c.Name, c => (IOpenApiSchema)ColumnSchema(c.Type), StringComparer.Ordinal),
            Required = new HashSet<string>(query.Columns.Select(c => c.Name), StringComparer.Ordinal),
        };
        var id = name + RowSchemaSuffix;
        document.Components!.Schemas![id] = schema;
        return new OpenApiSchemaReference(id, document);
    }

    private static OpenApiSchema ColumnSchema(string type) => type switch
    {
        "integer" => new() { Type = JsonSchemaType.Integer | JsonSchemaType.Null, Format = "int64" },
        "number" => new() { Type = JsonSchemaType.Number | JsonSchemaType.Null },
        "date" => new() { Type = JsonSchemaType.String | JsonSchemaType.Null, Format = "date" },
        "boolean" => new() { Type = JsonSchemaType.Boolean | JsonSchemaType.Null },
        _ => new() { Type = JsonSchemaType.String | JsonSchemaType.Null },
    };

    private static JsonValue ExampleCell(string type) => type switch
    {
        "integer" => JsonValue.Create(42),
        "number" => JsonValue.Create(4150.5),
        "date" => JsonValue.Create("2024-12-31"),
        "boolean" => JsonValue.Create(true),
        _ => JsonValue.Create("FIN"),
    };

    private static OpenApiHeader Header(string description, string example) => new()
    {
        Description = description,
        Schema = new OpenApiSchema { Type = JsonSchemaType.String },
        Example = JsonValue.Create(example),
    };

    private static string Pascal(string id) =>
        string.Concat(id.Split('-', StringSplitOptions.RemoveEmptyEntries).Select(part => char.ToUpperInvariant(part[0]) + part[1..]));
}
