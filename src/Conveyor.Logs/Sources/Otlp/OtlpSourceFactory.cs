using Conveyor.Logs.Configuration;

namespace Conveyor.Logs.Sources.Otlp;

/// <summary><c>otlp://H:P</c> (also <c>otlp+http://</c>): an <see cref="OtlpHttpSource"/>; <c>otlp+grpc://H:P</c>: an <see cref="OtlpGrpcSource"/>.</summary>
public static class OtlpSourceFactory
{
    /// <summary>OTLP/HTTP, <c>POST /v1/logs</c> (standard port 4318).</summary>
    public static SourceRegistration HttpRegistration { get; } = new(SourceType.Otlp, "otlp", "otlp://H:P", CreateHttp)
    {
        HostAndPort = true,
        Aliases = ["otlp+http"],
        FixedFormat = "otlp",
        OwnParser = OtlpRecordParser.Instance,
    };

    /// <summary>OTLP/gRPC, <c>LogsService/Export</c> (standard port 4317).</summary>
    public static SourceRegistration GrpcRegistration { get; } = new(SourceType.OtlpGrpc, "otlp+grpc", "otlp+grpc://H:P", CreateGrpc)
    {
        HostAndPort = true,
        FixedFormat = "otlp",
        OwnParser = OtlpRecordParser.Instance,
    };

    private static OtlpHttpSource CreateHttp(SourceContext c) =>
        new(c.Options, c.Info, c.Output, c.Logger, c.Time, c.Main ?? MainBufferView.Unknown);

    private static OtlpGrpcSource CreateGrpc(SourceContext c) =>
        new(c.Options, c.Info, c.Output, c.Logger, c.Time, c.Main ?? MainBufferView.Unknown);
}
