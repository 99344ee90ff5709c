using System.Globalization;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Proto.Collector.Logs.V1;

namespace Conveyor.Logs.Sources.Otlp;

/// <summary>
/// <c>--from otlp+grpc://H:P</c>: the OTLP/gRPC logs receiver, <c>opentelemetry.proto.collector.logs.v1.LogsService/Export</c>
/// over HTTP/2 without TLS (as OTLP clients send to <c>http://</c> endpoints), gzip-compressed messages accepted.
/// </summary>
/// <remarks>
/// Answers: OK with <c>partial_success</c> when some records were rejected; <c>UNAUTHENTICATED</c> without the bearer
/// token (metadata <c>authorization: Bearer TOKEN</c>); <c>RESOURCE_EXHAUSTED</c> with a <c>google.rpc.RetryInfo</c>
/// delay when the main buffer has no room within <see cref="SourceOptions.BlockTimeout"/> (the spec retries it only
/// with that delay); <c>UNAVAILABLE</c> while the service stops; <c>INVALID_ARGUMENT</c> for a request that can never
/// fit in the main buffer. Messages over <see cref="SourceOptions.MaxBodyBytes"/> are refused by gRPC itself
/// (<c>RESOURCE_EXHAUSTED</c>).
/// </remarks>
public sealed class OtlpGrpcSource : KestrelSource
{
    /// <summary>Creates the receiver; <see cref="LogSource.StartAsync"/> binds it.</summary>
    public OtlpGrpcSource(SourceOptions options, SourceInfo info, Pipeline.LineIntake output, ILogger logger, TimeProvider time, MainBufferView main)
        : base(options, info, output, logger, time, main)
    {
    }

    /// <inheritdoc />
    protected override HttpProtocols Protocols => HttpProtocols.Http2;

    /// <inheritdoc />
    protected override void ConfigureServices(IServiceCollection services)
    {
        services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = (int)Math.Min(Settings.MaxBodyBytes, int.MaxValue);
            o.EnableDetailedErrors = false;
        });
    }

    /// <inheritdoc />
    protected override void MapEndpoints(WebApplication app) => app.MapGrpcService<LogsServiceEndpoint>();

    /// <summary>The gRPC service; one per call, bound to its source through the container.</summary>
    internal sealed class LogsServiceEndpoint(OtlpGrpcSource source) : LogsService.LogsServiceBase
    {
        public override async Task<ExportLogsServiceResponse> Export(ExportLogsServiceRequest request, ServerCallContext context)
        {
            if (source.IsStopping)
            {
                throw new RpcException(new Grpc.Core.Status(StatusCode.Unavailable, "the service is stopping"));
            }

            if (source.Settings.BearerToken is { } token && !HasToken(context, token))
            {
                throw new RpcException(new Grpc.Core.Status(StatusCode.Unauthenticated, "a bearer token is required (authorization: Bearer TOKEN)"));
            }

            var result = await OtlpIntake.ExportAsync(source, request, context.CancellationToken).ConfigureAwait(false);
            if (result.TooLarge)
            {
                throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, result.Message!));
            }

            switch (result.Admission)
            {
                case Admission.Admitted:
                    var answer = new ExportLogsServiceResponse();
                    if (result.Rejected > 0)
                    {
                        answer.PartialSuccess = new ExportLogsPartialSuccess { RejectedLogRecords = result.Rejected, ErrorMessage = result.Message ?? string.Empty };
                    }

                    return answer;
                case Admission.Full:
                    throw Exhausted(result.Message!, source.RetryAfterSeconds);
                default:
                    throw new RpcException(new Grpc.Core.Status(StatusCode.Unavailable, result.Message!));
            }
        }

        private static bool HasToken(ServerCallContext context, string token)
        {
            var http = context.GetHttpContext();
            return HttpIntake.IsAuthorized(http.Request, token);
        }

        /// <summary>RESOURCE_EXHAUSTED carrying <c>google.rpc.RetryInfo</c> in <c>grpc-status-details-bin</c>, as OTLP asks.</summary>
        private static RpcException Exhausted(string message, int retryAfterSeconds)
        {
            var status = new Google.Rpc.Status
            {
                Code = (int)StatusCode.ResourceExhausted,
                Message = message,
                Details = { Any.Pack(new RetryInfo { RetryDelay = Duration.FromTimeSpan(TimeSpan.FromSeconds(retryAfterSeconds)) }) },
            };
            var trailers = new Metadata
            {
                { "grpc-status-details-bin", status.ToByteArray() },
                { "retry-after", retryAfterSeconds.ToString(CultureInfo.InvariantCulture) },
            };
            return new RpcException(new Grpc.Core.Status(StatusCode.ResourceExhausted, message), trailers);
        }
    }
}
