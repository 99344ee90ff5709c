using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Sources.Otlp;
using Conveyor.Logs.Tests.Sinks.Otlp;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using OpenTelemetry.Proto.Collector.Logs.V1;

namespace Conveyor.Logs.Tests.Sources.Otlp;

/// <summary>The OTLP receivers in process: encodings, partial success, back-pressure answers and their accounting.</summary>
public sealed class OtlpSourceTests
{
    private static readonly Method<ExportLogsServiceRequest, ExportLogsServiceResponse> Export = new(
        MethodType.Unary,
        "opentelemetry.proto.collector.logs.v1.LogsService",
        "Export",
        Marshallers.Create(static r => r.ToByteArray(), ExportLogsServiceRequest.Parser.ParseFrom),
        Marshallers.Create(static r => r.ToByteArray(), ExportLogsServiceResponse.Parser.ParseFrom));

    [Fact]
    public async Task Http_GzippedProtobuf_EveryRecordOneRawLineWithItsOwnId()
    {
        await using var host = await OtlpTestHost.StartAsync(SourceType.Otlp);
        using var client = new HttpClient { BaseAddress = host.BaseAddress };
        var request = OtlpLogMapping.ToRequest(OtlpSinkTests.RichEvents());

        using var response = await client.PostAsync(OtlpHttpSource.LogsPath, Protobuf(request.ToByteArray(), gzip: true));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-protobuf", response.Content.Headers.ContentType?.MediaType);
        Assert.Null(ExportLogsServiceResponse.Parser.ParseFrom(await response.Content.ReadAsByteArrayAsync()).PartialSuccess);
        var lines = Drain(host);
        Assert.Equal(4, lines.Count);
        Assert.Single(lines.Select(static l => l.Id[..l.Id.LastIndexOf(':')]).Distinct());
        Assert.Equal(["1", "2", "3", "4"], lines.Select(static l => l.Id[(l.Id.LastIndexOf(':') + 1)..]));
        Assert.StartsWith(host.Info.Name + ":", lines[0].Id, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Http_WrongIdLengths_RejectedAloneAsPartialSuccess()
    {
        await using var host = await OtlpTestHost.StartAsync(SourceType.Otlp);
        using var client = new HttpClient { BaseAddress = host.BaseAddress };
        var request = OtlpLogMapping.ToRequest(OtlpSinkTests.RichEvents());
        var records = request.ResourceLogs[0].ScopeLogs[0].LogRecords;
        records[0].TraceId = ByteString.CopyFrom(new byte[5]);
        records[1].SpanId = ByteString.CopyFrom(new byte[9]);

        using var response = await client.PostAsync(OtlpHttpSource.LogsPath, Protobuf(request.ToByteArray()));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var partial = ExportLogsServiceResponse.Parser.ParseFrom(await response.Content.ReadAsByteArrayAsync()).PartialSuccess;
        Assert.Equal(2, partial.RejectedLogRecords);
        Assert.Contains("trace id must be 16 bytes", partial.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(2, Drain(host).Count);
        Assert.Equal((4L, 2L, 2L, 0L), (host.Info.Received, host.Info.Admitted, host.Info.Refused, host.Info.Pending));
    }

    [Fact]
    public async Task Http_JsonWithHexIds_ReadAsTheSpecWritesThem()
    {
        await using var host = await OtlpTestHost.StartAsync(SourceType.Otlp);
        using var client = new HttpClient { BaseAddress = host.BaseAddress };
        const string json = """
            {"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"eee19b7ec3c1b174",
              "severityNumber":"SEVERITY_NUMBER_WARN","timeUnixNano":1000,"unknownField":{"x":1},
              "attributes":[{"key":"n","value":{"intValue":"-9223372036854775808"}}]}]}]}]}
            """;
        using var response = await client.PostAsync(OtlpHttpSource.LogsPath, new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var e = Assert.Single(host.TakeEvents());
        Assert.Equal("5b8efff798038103d269b633813fc60c", e.TraceId);
        Assert.Equal("eee19b7ec3c1b174", e.SpanId);
        Assert.Equal(13, e.SeverityNumber);
        Assert.Equal(long.MinValue, e.Attributes.TryGetInt64("n", out var n) ? n : 0);
        Assert.Equal(DateTimeOffset.UnixEpoch.AddTicks(10), e.Timestamp);
    }

    [Fact]
    public async Task Http_FullBuffer_429WithRetryAfterAndAllOrNone()
    {
        await using var host = await OtlpTestHost.StartAsync(SourceType.Otlp, capacity: 6);
        using var client = new HttpClient { BaseAddress = host.BaseAddress };
        var body = OtlpLogMapping.ToRequest(OtlpSinkTests.RichEvents()).ToByteArray();

        using (var first = await client.PostAsync(OtlpHttpSource.LogsPath, Protobuf(body)))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        // 4 of 6 slots are taken: the next 4 records do not fit, and none of them is admitted.
        using (var second = await client.PostAsync(OtlpHttpSource.LogsPath, Protobuf(body)))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(7), second.Headers.RetryAfter?.Delta);
            Assert.Equal((int)StatusCode.ResourceExhausted, Google.Rpc.Status.Parser.ParseFrom(await second.Content.ReadAsByteArrayAsync()).Code);
        }

        Assert.Equal(4, host.Main.GetStatistics().Depth);
        Assert.Equal((8L, 4L, 4L), (host.Info.Received, host.Info.Admitted, host.Info.Refused));

        // More records than the buffer can ever hold is not "retry later" but "too large".
        var seven = OtlpLogMapping.ToRequest([.. OtlpSinkTests.RichEvents(), .. OtlpSinkTests.RichEvents()]).ToByteArray();
        using var never = await client.PostAsync(OtlpHttpSource.LogsPath, Protobuf(seven));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, never.StatusCode);
    }

    [Fact]
    public async Task Http_MainBufferCompleted_503WithRetryAfterAndCountedRefused()
    {
        // A completed buffer tells a writer that waits (a block timeout); one that may not wait only sees "no room".
        await using var host = await OtlpTestHost.StartAsync(SourceType.Otlp, configure: static o => o.BlockTimeout = TimeSpan.FromSeconds(1));
        using var client = new HttpClient { BaseAddress = host.BaseAddress };
        host.Main.Writer.Complete();

        using var response = await client.PostAsync(OtlpHttpSource.LogsPath, Protobuf(OtlpLogMapping.ToRequest(OtlpSinkTests.RichEvents()).ToByteArray()));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Equal((int)StatusCode.Unavailable, Google.Rpc.Status.Parser.ParseFrom(await response.Content.ReadAsByteArrayAsync()).Code);
        Assert.Equal((4L, 0L, 4L, 0L), (host.Info.Received, host.Info.Admitted, host.Info.Refused, host.Info.Pending));
    }

    [Fact]
    public async Task Grpc_Export_AcceptsAndAnswersPartialSuccess()
    {
        await using var host = await OtlpTestHost.StartAsync(SourceType.OtlpGrpc);
        using var channel = GrpcChannel.ForAddress(host.BaseAddress);
        var request = OtlpLogMapping.ToRequest(OtlpSinkTests.RichEvents());
        request.ResourceLogs[1].ScopeLogs[0].LogRecords[0].SpanId = ByteString.CopyFrom(new byte[3]);

        var response = await channel.CreateCallInvoker().AsyncUnaryCall(Export, null, new CallOptions(), request);

        Assert.Equal(1, response.PartialSuccess.RejectedLogRecords);
        Assert.Equal(3, host.TakeEvents().Count);
    }

    [Fact]
    public async Task Grpc_FullBuffer_ResourceExhaustedWithRetryInfo()
    {
        await using var host = await OtlpTestHost.StartAsync(SourceType.OtlpGrpc, capacity: 4);
        using var channel = GrpcChannel.ForAddress(host.BaseAddress);
        var invoker = channel.CreateCallInvoker();
        var request = OtlpLogMapping.ToRequest(OtlpSinkTests.RichEvents());
        await invoker.AsyncUnaryCall(Export, null, new CallOptions(), request);

        var error = await Assert.ThrowsAsync<RpcException>(async () => await invoker.AsyncUnaryCall(Export, null, new CallOptions(), request));

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        var details = Google.Rpc.Status.Parser.ParseFrom(error.Trailers.GetValueBytes("grpc-status-details-bin"));
        var retry = details.Details.Single().Unpack<Google.Rpc.RetryInfo>();
        Assert.Equal(TimeSpan.FromSeconds(7), retry.RetryDelay.ToTimeSpan());
        Assert.Equal((8L, 4L, 4L), (host.Info.Received, host.Info.Admitted, host.Info.Refused));
    }

    [Fact]
    public async Task Grpc_WrongToken_Unauthenticated()
    {
        await using var host = await OtlpTestHost.StartAsync(SourceType.OtlpGrpc, configure: static o => o.BearerToken = "s3cret");
        using var channel = GrpcChannel.ForAddress(host.BaseAddress);
        var invoker = channel.CreateCallInvoker();
        var request = OtlpLogMapping.ToRequest(OtlpSinkTests.RichEvents());

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await invoker.AsyncUnaryCall(Export, null, new CallOptions(new Metadata { { "authorization", "Bearer nope" } }), request));
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);

        await invoker.AsyncUnaryCall(Export, null, new CallOptions(new Metadata { { "authorization", "Bearer s3cret" } }), request);
        Assert.Equal(4, host.TakeEvents().Count);
        Assert.Equal(4, host.Info.Received);
    }

    private static List<Conveyor.Logs.Model.RawLine> Drain(OtlpTestHost host)
    {
        var lines = new List<Conveyor.Logs.Model.RawLine>();
        while (host.Main.Reader.TryRead(out var line))
        {
            lines.Add(line);
        }

        return lines;
    }

    private static ByteArrayContent Protobuf(byte[] body, bool gzip = false)
    {
        if (gzip)
        {
            using var ms = new MemoryStream();
            using (var z = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
            {
                z.Write(body);
            }

            body = ms.ToArray();
        }

        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
        if (gzip)
        {
            content.Headers.ContentEncoding.Add("gzip");
        }

        return content;
    }
}
