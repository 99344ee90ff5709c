using System.Net.Http.Headers;
using System.Text;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Proto.Collector.Logs.V1;
using RpcCode = Grpc.Core.StatusCode;
using RpcStatus = Google.Rpc.Status;

namespace Conveyor.Logs.Sources.Otlp;

/// <summary>
/// <c>--from otlp://H:P</c>: the OTLP/HTTP logs receiver, <c>POST /v1/logs</c> with a protobuf
/// (<c>application/x-protobuf</c>) or JSON (<c>application/json</c>) <c>ExportLogsServiceRequest</c>, optionally gzip.
/// </summary>
/// <remarks>
/// Answers as the OTLP specification asks, in the request's encoding: 200 with an <c>ExportLogsServiceResponse</c>
/// (its <c>partial_success</c> set when some records were rejected); 400 with a <c>google.rpc.Status</c> saying what is
/// malformed (nothing of the request is stored); 401 without the source's bearer token; 413 over
/// <see cref="SourceOptions.MaxBodyBytes"/> (also after decompression) or more than the main buffer can ever hold;
/// 415 for another content type; 429 with <c>Retry-After</c> when the main buffer has no room within
/// <see cref="SourceOptions.BlockTimeout"/>, and 503 with <c>Retry-After</c> while the service stops — the two
/// statuses OTLP clients retry.
/// </remarks>
public sealed class OtlpHttpSource : KestrelSource
{
    /// <summary>The path of the logs signal.</summary>
    public const string LogsPath = "/v1/logs";

    /// <summary>Creates the receiver; <see cref="LogSource.StartAsync"/> binds it.</summary>
    public OtlpHttpSource(SourceOptions options, SourceInfo info, Pipeline.LineIntake output, ILogger logger, TimeProvider time, MainBufferView main)
        : base(options, info, output, logger, time, main)
    {
    }

    /// <inheritdoc />
    protected override void MapEndpoints(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapPost(LogsPath, HandleAsync);
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        var json = MediaTypeHeaderValue.TryParse(request.ContentType, out var media) && media.MediaType == "application/json";
        if (!json && media?.MediaType is not ("application/x-protobuf" or "application/protobuf"))
        {
            await ErrorAsync(response, json, 415, RpcCode.InvalidArgument, $"content type must be application/x-protobuf or application/json (was '{request.ContentType}')").ConfigureAwait(false);
            return;
        }

        if (IsStopping)
        {
            SetRetryAfter(response, 5);
            await ErrorAsync(response, json, 503, RpcCode.Unavailable, "the service is stopping").ConfigureAwait(false);
            return;
        }

        if (!HttpIntake.IsAuthorized(request, Settings.BearerToken))
        {
            response.Headers.WWWAuthenticate = "Bearer";
            await ErrorAsync(response, json, 401, RpcCode.Unauthenticated, "a bearer token is required (Authorization: Bearer TOKEN)").ConfigureAwait(false);
            return;
        }

        var body = await HttpIntake.ReadBodyAsync(context, Settings.MaxBodyBytes, Bodies, context.RequestAborted).ConfigureAwait(false);
        if (body.Status != 0)
        {
            if (body.Status == 429)
            {
                Info.OnBodyRefused();
                SetRetryAfter(response, 1);
            }

            await ErrorAsync(response, json, body.Status, body.Status is 413 or 429 ? RpcCode.ResourceExhausted : RpcCode.InvalidArgument, body.Error!).ConfigureAwait(false);
            return;
        }

        try
        {
            await ExportAsync(context, json, body).ConfigureAwait(false);
        }
        finally
        {
            // The records are admitted or refused by now: the main buffer's own bound holds them from here.
            Bodies.Release(body.Reserved);
        }
    }

    private async Task ExportAsync(HttpContext context, bool json, RequestBody body)
    {
        var response = context.Response;

        ExportLogsServiceRequest export;
        try
        {
            export = json
                ? OtlpJson.ParseRequest(Encoding.UTF8.GetString(body.Span))
                : ExportLogsServiceRequest.Parser.ParseFrom(body.Span);
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException or FormatException or DecoderFallbackException)
        {
            await ErrorAsync(response, json, 400, RpcCode.InvalidArgument, $"the body is not a valid OTLP {(json ? "JSON" : "protobuf")} ExportLogsServiceRequest: {ex.Message}").ConfigureAwait(false);
            return;
        }

        var result = await OtlpIntake.ExportAsync(this, export, context.RequestAborted).ConfigureAwait(false);
        if (result.TooLarge)
        {
            await ErrorAsync(response, json, 413, RpcCode.ResourceExhausted, result.Message!).ConfigureAwait(false);
            return;
        }

        switch (result.Admission)
        {
            case Admission.Admitted:
                var answer = new ExportLogsServiceResponse();
                if (result.Rejected > 0)
                {
                    answer.PartialSuccess = new ExportLogsPartialSuccess { RejectedLogRecords = result.Rejected, ErrorMessage = result.Message ?? string.Empty };
                }

                await WriteAsync(response, json, 200, answer).ConfigureAwait(false);
                break;
            case Admission.Full:
                SetRetryAfter(response, RetryAfterSeconds);
                await ErrorAsync(response, json, 429, RpcCode.ResourceExhausted, result.Message!).ConfigureAwait(false);
                break;
            default:
                SetRetryAfter(response, 5);
                await ErrorAsync(response, json, 503, RpcCode.Unavailable, result.Message!).ConfigureAwait(false);
                break;
        }
    }

    private static Task ErrorAsync(HttpResponse response, bool json, int status, RpcCode code, string message) =>
        WriteAsync(response, json, status, new RpcStatus { Code = (int)code, Message = message });

    private static async Task WriteAsync(HttpResponse response, bool json, int status, IMessage message)
    {
        response.StatusCode = status;
        if (json)
        {
            response.ContentType = "application/json";
            await response.WriteAsync(OtlpJson.Format(message)).ConfigureAwait(false);
        }
        else
        {
            response.ContentType = "application/x-protobuf";
            await response.Body.WriteAsync(message.ToByteArray()).ConfigureAwait(false);
        }
    }
}
