using Conveyor.Cli.Dashboard;
using Conveyor.Cli.Hosting;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Query;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sources.Http;

namespace Conveyor.Cli.Http;

/// <summary>
/// The operational endpoints (SPEC §4): <c>/health</c>, <c>/ready</c>, <c>/api/pipeline</c>, <c>/api/search</c>
/// and the dashboard at <c>/</c> (<see cref="DashboardEndpoints"/>). <c>/metrics</c> is the OpenTelemetry
/// Prometheus exporter's. When the HTTP source has a bearer token, the two <c>/api/</c> endpoints require it as
/// <c>/ingest</c> does: they show the stored logs.
/// </summary>
internal static class AdminEndpoints
{
    /// <summary>Readiness fails above this fill of the main buffer.</summary>
    public const double SaturatedFill = 0.9;

    private static readonly string[] Starting = ["starting"];

    public static void Map(WebApplication app, PipelineService service, string? searchStoreUri)
    {
        app.MapPost("/ingest", (HttpContext context) => IngestEndpoint.HandleAsync(context, service.HttpSources, service.Topology));
        app.MapGet("/health", () => Results.Json(new { status = "ok" }, HttpJson.Options));
        app.MapGet("/ready", async (CancellationToken ct) =>
        {
            if (service.Topology is not { } t)
            {
                return Results.Json(new { ready = false, reasons = Starting }, HttpJson.Options, statusCode: 503);
            }

            await t.CheckSinksAsync(ct).ConfigureAwait(false);
            var reasons = new List<string>();
            var fill = t.MainFill;
            if (service.IsStopping)
            {
                reasons.Add("stopping");
            }

            if (fill > SaturatedFill)
            {
                reasons.Add($"main buffer {fill:P0} full");
            }

            reasons.AddRange(t.DownSinks().Select(static s => $"sink {s} is down"));
            return Results.Json(new { ready = reasons.Count == 0, reasons, main_buffer_fill = fill }, HttpJson.Options, statusCode: reasons.Count == 0 ? 200 : 503);
        });
        app.MapGet("/api/pipeline", () => service.Topology is { } t
            ? Results.Json(t.GetSnapshot(), HttpJson.Options)
            : Results.Json(new ErrorBody("starting"), HttpJson.Options, statusCode: 503))
            .AddEndpointFilter((context, next) => RequireToken(context, next, service));
        app.MapGet("/api/search", async (HttpContext context) =>
        {
            if (searchStoreUri is null)
            {
                context.Response.StatusCode = 404;
                await context.Response.WriteAsJsonAsync(new ErrorBody("no searchable store: configure a duckdb:, sqlite: or postgres: sink"), HttpJson.Options).ConfigureAwait(false);
                return;
            }

            // A DuckDB store is searched through the writer's own instance, never opened per request.
            var shared = service.WriterStore;
            if (shared is null && SinkRegistry.Split(searchStoreUri).Scheme == "duckdb")
            {
                context.Response.StatusCode = 503;
                await context.Response.WriteAsJsonAsync(new ErrorBody("starting"), HttpJson.Options).ConfigureAwait(false);
                return;
            }

            var q = context.Request.Query;
            using var body = new MemoryStream();
            var deadLetters = q["dead_letters"].ToString() is "true" or "1";
            var parameters = new SearchParameters(q["q"], q["since"], q["until"], q["limit"], q["offset"], deadLetters, q["total"], q["histogram"]);
            int status;
            if (shared is not null)
            {
                status = await SearchResponse.WriteAsync(body, shared, parameters, TimeProvider.System, context.RequestAborted).ConfigureAwait(false);
            }
            else
            {
                var store = LogStore.Open(searchStoreUri);
                await using (store.ConfigureAwait(false))
                {
                    status = await SearchResponse.WriteAsync(body, store, parameters, TimeProvider.System, context.RequestAborted).ConfigureAwait(false);
                }
            }

            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json; charset=utf-8";
            body.Position = 0;
            await body.CopyToAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
        }).AddEndpointFilter((context, next) => RequireToken(context, next, service));
        app.MapDashboard();
    }

    private static async ValueTask<object?> RequireToken(EndpointFilterInvocationContext context, EndpointFilterDelegate next, PipelineService service)
    {
        if (IngestEndpoint.IsAuthorized(context.HttpContext, service.HttpSources))
        {
            return await next(context).ConfigureAwait(false);
        }

        context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
        return Results.Json(new ErrorBody("a bearer token is required (Authorization: Bearer TOKEN)"), HttpJson.Options, statusCode: 401);
    }

    /// <summary>The first store <c>/api/search</c> can query: a duckdb, sqlite or postgres sink (through a slow: wrapper too).</summary>
    public static string? SearchStoreUri(PipelineOptions options)
    {
        foreach (var sink in options.Sinks)
        {
            var uri = sink.Uri;
            while (SinkRegistry.Split(uri) is ("slow", var rest) && rest.IndexOf('+', StringComparison.Ordinal) is var plus and >= 0)
            {
                uri = rest[(plus + 1)..];
            }

            if (SinkRegistry.Split(uri).Scheme is "duckdb" or "sqlite" or "postgres")
            {
                return uri;
            }
        }

        return null;
    }
}
