using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Conveyor.Logs.Sources.Elasticsearch;

/// <summary>
/// <c>--from elasticsearch://H:P</c>: enough of the Elasticsearch HTTP API for log shippers that write to it
/// (rsyslog's omelasticsearch, syslog-ng's elasticsearch-http(), Filebeat, Logstash, Fluent Bit, Vector) to write
/// here instead: <c>POST /_bulk</c> and <c>POST /{index}/_bulk</c>, plus the probes they send first.
/// </summary>
/// <remarks>
/// <para>Each <c>index</c>/<c>create</c> document is one record, parsed like a JSON line (<c>@timestamp</c>,
/// <c>message</c>, <c>level</c> map to the event; the rest become attributes) with <c>_index</c> (and <c>_id</c> when
/// given) kept as attributes. Records are admitted all or none, under one acknowledgement per request (a reference
/// per record), and answered only once admitted: in the main buffer, or on disk when it is durable. The answer is Elasticsearch's:
/// <c>{"took":…,"errors":…,"items":[{"index":{"_index":…,"_id":…,"status":201,"result":"created"}}…]}</c>, with a
/// per-item status 400 and error for a bad document or an unsupported <c>delete</c>/<c>update</c>; the record id
/// stands in for a missing <c>_id</c>.</para>
/// <para>Whole-request answers: 400 for a malformed action line (nothing stored), 401 without the bearer token,
/// 413 over <see cref="SourceOptions.MaxBodyBytes"/>, 429 with <c>Retry-After</c> when the main buffer has no room
/// within <see cref="SourceOptions.BlockTimeout"/>, 503 with <c>Retry-After</c> while stopping; errors in
/// Elasticsearch's shape (<c>{"error":{"type":…,"reason":…},"status":…}</c>). Every answer carries
/// <c>X-Elastic-Product: Elasticsearch</c>, which official clients check; a request asking for the REST API
/// compatibility media type (<c>compatible-with=7</c> or <c>8</c>) gets it back.</para>
/// </remarks>
public sealed class ElasticsearchSource : KestrelSource
{
    /// <summary>The version this receiver claims in <c>GET /</c>: an 8.x that 7.x clients also accept.</summary>
    public const string PretendVersion = "8.15.0";

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Creates the receiver; <see cref="LogSource.StartAsync"/> binds it.</summary>
    public ElasticsearchSource(SourceOptions options, SourceInfo info, Pipeline.LineIntake output, ILogger logger, TimeProvider time, MainBufferView main)
        : base(options, info, output, logger, time, main)
    {
    }

    /// <inheritdoc />
    protected override void MapEndpoints(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.Use(async (context, next) =>
        {
            context.Response.Headers["X-Elastic-Product"] = "Elasticsearch";
            if (!HttpIntake.IsAuthorized(context.Request, Settings.BearerToken))
            {
                context.Response.Headers.WWWAuthenticate = "Bearer";
                await ErrorAsync(context, 401, "security_exception", "a bearer token is required (Authorization: Bearer TOKEN)").ConfigureAwait(false);
                return;
            }

            await next(context).ConfigureAwait(false);
        });
        app.MapMethods("/", ["GET", "HEAD"], RootAsync);
        app.MapMethods("/_bulk", ["POST", "PUT"], context => BulkAsync(context, null));
        app.MapMethods("/{index}/_bulk", ["POST", "PUT"], context => BulkAsync(context, context.Request.RouteValues["index"] as string));
        app.MapGet("/_cat/health", CatHealthAsync);
        app.MapGet("/_cluster/health", context => JsonAsync(context, 200, w =>
        {
            w.WriteString("cluster_name", "conveyor");
            w.WriteString("status", "green");
            w.WriteBoolean("timed_out", false);
            w.WriteNumber("number_of_nodes", 1);
            w.WriteNumber("number_of_data_nodes", 1);
        }));
        app.MapGet("/_license", context => JsonAsync(context, 200, w =>
        {
            w.WriteStartObject("license");
            w.WriteString("status", "active");
            w.WriteString("type", "basic");
            w.WriteString("uid", "00000000-0000-0000-0000-000000000000");
            w.WriteEndObject();
        }));
        app.MapGet("/_nodes/http", NodesAsync);
        app.MapGet("/_nodes", NodesAsync);

        // Shippers install templates, lifecycle policies and pipelines before they write; the store needs none, so
        // each exists and every change is acknowledged.
        foreach (var prefix in new[] { "/_index_template", "/_template", "/_component_template", "/_ilm/policy", "/_ingest/pipeline" })
        {
            app.MapMethods(prefix + "/{name}", ["GET", "HEAD"], context => JsonAsync(context, 200, _ => { }));
            app.MapMethods(prefix + "/{name}", ["PUT", "POST", "DELETE"], context => JsonAsync(context, 200, w => w.WriteBoolean("acknowledged", true)));
        }
    }

    private Task RootAsync(HttpContext context) => JsonAsync(context, 200, w =>
    {
        w.WriteString("name", Info.Name);
        w.WriteString("cluster_name", "conveyor");
        w.WriteString("cluster_uuid", "conveyor-" + Info.Name);
        w.WriteStartObject("version");
        w.WriteString("number", PretendVersion);
        w.WriteString("build_flavor", "default");
        w.WriteString("build_type", "docker");
        w.WriteString("lucene_version", "9.11.1");
        w.WriteString("minimum_wire_compatibility_version", "7.17.0");
        w.WriteString("minimum_index_compatibility_version", "7.0.0");
        w.WriteEndObject();
        w.WriteString("tagline", "You Know, for Search");
    });

    private Task NodesAsync(HttpContext context) => JsonAsync(context, 200, w =>
    {
        var address = Settings.Host + ":" + BoundPort.ToString(CultureInfo.InvariantCulture);
        w.WriteStartObject("_nodes");
        w.WriteNumber("total", 1);
        w.WriteNumber("successful", 1);
        w.WriteNumber("failed", 0);
        w.WriteEndObject();
        w.WriteString("cluster_name", "conveyor");
        w.WriteStartObject("nodes");
        w.WriteStartObject("conveyor");
        w.WriteString("name", Info.Name);
        w.WriteString("version", PretendVersion);
        w.WriteString("ip", Settings.Host);
        w.WriteStartObject("http");
        w.WriteStartArray("bound_address");
        w.WriteStringValue(address);
        w.WriteEndArray();
        w.WriteString("publish_address", address);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndObject();
    });

    private async Task CatHealthAsync(HttpContext context)
    {
        if (context.Request.Query["format"] == "json")
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("[{\"cluster\":\"conveyor\",\"status\":\"green\",\"node.total\":\"1\",\"node.data\":\"1\"}]").ConfigureAwait(false);
            return;
        }

        context.Response.ContentType = "text/plain; charset=UTF-8";
        var now = Time.GetUtcNow();
        var epoch = now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        await context.Response.WriteAsync(epoch + " " + now.ToString("HH:mm:ss", CultureInfo.InvariantCulture) + " conveyor green 1 1 0 0 0 0 0 0 - 100.0%\n").ConfigureAwait(false);
    }

    private async Task BulkAsync(HttpContext context, string? pathIndex)
    {
        var started = Time.GetTimestamp();
        if (IsStopping)
        {
            SetRetryAfter(context.Response, 5);
            await ErrorAsync(context, 503, "unavailable_shards_exception", "the service is stopping").ConfigureAwait(false);
            return;
        }

        var body = await HttpIntake.ReadBodyAsync(context, Settings.MaxBodyBytes, Bodies, context.RequestAborted).ConfigureAwait(false);
        if (body.Status != 0)
        {
            if (body.Status == 429)
            {
                Info.OnBodyRefused();
                SetRetryAfter(context.Response, 1);
            }

            await ErrorAsync(context, body.Status, body.Status switch { 413 => "content_too_long_exception", 429 => "es_rejected_execution_exception", _ => "parse_exception" }, body.Error!).ConfigureAwait(false);
            return;
        }

        try
        {
            await AdmitBulkAsync(context, pathIndex, body, started).ConfigureAwait(false);
        }
        finally
        {
            // The records are admitted or refused by now: the main buffer's own bound holds them from here.
            Bodies.Release(body.Reserved);
        }
    }

    private async Task AdmitBulkAsync(HttpContext context, string? pathIndex, RequestBody body, long started)
    {

        var (items, malformed) = BulkRequest.Parse(body.Span, pathIndex, Settings.MaxLineBytes);
        if (items is null)
        {
            await ErrorAsync(context, 400, "illegal_argument_exception", malformed!).ConfigureAwait(false);
            return;
        }

        var prefix = NextRequestPrefix();
        var now = Clock.GetUtcNow();
        var lines = new List<RawLine>(items.Count);
        var ids = new string?[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            if (items[i].Record is { } record)
            {
                var recordId = prefix + (i + 1).ToString(CultureInfo.InvariantCulture);
                ids[i] = items[i].Id ?? recordId;
                lines.Add(new RawLine(record, Info, recordId, now));
            }
            else
            {
                ids[i] = items[i].Id;
            }
        }

        if (HttpIntake.CheckFits(lines, MainCapacity, MainMaxBytes) is { } tooLarge)
        {
            await ErrorAsync(context, 413, "content_too_long_exception", tooLarge).ConfigureAwait(false);
            return;
        }

        var refused = items.Count - lines.Count;
        Info.OnReceived(items.Count);
        Info.OnRefused(refused);
        if (lines.Count > 0)
        {
            // The answer says "created" only from here on: the records are in the main buffer, or on disk when durable.
            var admission = Admission.Stopped;
            if (!IsStopping)
            {
                (admission, var ack) = await HttpIntake.AdmitAsync(Writer, lines, Settings.BlockTimeout, context.RequestAborted).ConfigureAwait(false);
                OnRequestAcknowledgement(ack);
            }

            if (admission != Admission.Admitted)
            {
                Info.OnRefused(lines.Count);
                var full = admission == Admission.Full;
                SetRetryAfter(context.Response, full ? RetryAfterSeconds : 5);
                await ErrorAsync(context, full ? 429 : 503, full ? "es_rejected_execution_exception" : "unavailable_shards_exception", HttpIntake.Refusal(Writer, admission)).ConfigureAwait(false);
                return;
            }

            Info.OnAdmitted(lines.Count);
        }

        await JsonAsync(context, 200, w =>
        {
            w.WriteNumber("took", (long)Time.GetElapsedTime(started).TotalMilliseconds);
            w.WriteBoolean("errors", refused > 0);
            w.WriteStartArray("items");
            for (var i = 0; i < items.Count; i++)
            {
                WriteItem(w, items[i], ids[i]);
            }

            w.WriteEndArray();
        }).ConfigureAwait(false);
    }

    private static void WriteItem(Utf8JsonWriter w, BulkItem item, string? id)
    {
        w.WriteStartObject();
        w.WriteStartObject(BulkRequest.Name(item.Action));
        if (item.Index is null)
        {
            w.WriteNull("_index");
        }
        else
        {
            w.WriteString("_index", item.Index);
        }

        if (id is null)
        {
            w.WriteNull("_id");
        }
        else
        {
            w.WriteString("_id", id);
        }

        if (item.IsError)
        {
            w.WriteNumber("status", 400);
            w.WriteStartObject("error");
            w.WriteString("type", item.ErrorType);
            w.WriteString("reason", item.ErrorReason);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNumber("_version", 1);
            w.WriteString("result", "created");
            w.WriteStartObject("_shards");
            w.WriteNumber("total", 1);
            w.WriteNumber("successful", 1);
            w.WriteNumber("failed", 0);
            w.WriteEndObject();
            w.WriteNumber("_seq_no", 0);
            w.WriteNumber("_primary_term", 1);
            w.WriteNumber("status", 201);
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static Task ErrorAsync(HttpContext context, int status, string type, string reason) => JsonAsync(context, status, w =>
    {
        w.WriteStartObject("error");
        w.WriteStartArray("root_cause");
        w.WriteStartObject();
        w.WriteString("type", type);
        w.WriteString("reason", reason);
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteString("type", type);
        w.WriteString("reason", reason);
        w.WriteEndObject();
        w.WriteNumber("status", status);
    });

    /// <summary>Writes one JSON object whose members <paramref name="members"/> writes, in the media type the client asked for.</summary>
    private static async Task JsonAsync(HttpContext context, int status, Action<Utf8JsonWriter> members)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            members(writer);
            writer.WriteEndObject();
        }

        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = MediaType(context.Request);
        response.ContentLength = buffer.WrittenCount;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// <c>application/vnd.elasticsearch+json;compatible-with=N</c> when the client asked for REST API compatibility
    /// (Accept or Content-Type), else <c>application/json</c>.
    /// </summary>
    private static string MediaType(HttpRequest request)
    {
        foreach (var header in new[] { request.Headers.Accept.ToString(), request.ContentType ?? string.Empty })
        {
            var at = header.IndexOf("compatible-with=", StringComparison.OrdinalIgnoreCase);
            if (header.Contains("vnd.elasticsearch", StringComparison.OrdinalIgnoreCase) && at >= 0)
            {
                var version = new string(header.AsSpan(at + "compatible-with=".Length).TrimStart().ToArray().TakeWhile(char.IsAsciiDigit).ToArray());
                if (version is "7" or "8")
                {
                    return "application/vnd.elasticsearch+json;compatible-with=" + version;
                }
            }
        }

        return "application/json";
    }
}
