using System.Globalization;
using Conveyor.Logs.Configuration;
using Conveyor.Logs.Model;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Logs.V1;

namespace Conveyor.Logs.Sources.Otlp;

/// <summary>What an export request came to.</summary>
/// <param name="Admission">Whether the accepted records are in the main buffer (or on disk, durable).</param>
/// <param name="Accepted">Records admitted (0 unless <paramref name="Admission"/> is <see cref="Sources.Admission.Admitted"/>).</param>
/// <param name="Rejected">Records refused one by one (the spec's partial success), with <paramref name="Message"/> saying why.</param>
/// <param name="Message">Why records were rejected, or why the request was refused; null when all went in.</param>
/// <param name="TooLarge">True when the request can never fit in the main buffer (HTTP 413).</param>
internal readonly record struct OtlpExportResult(Admission Admission, int Accepted, int Rejected, string? Message, bool TooLarge = false);

/// <summary>
/// The part of an OTLP export both receivers share: check each record, turn the good ones into raw records, admit
/// them all or none, and count everything on the source.
/// </summary>
/// <remarks>
/// <para>How a pre-parsed record travels: the main buffer carries <see cref="RawLine"/>s (bytes, id, receive
/// time), and so does the durable buffer on disk, so an OTLP record is not turned into an event here but re-encoded
/// as a compact protobuf envelope: a <see cref="ResourceLogs"/> holding its resource, one scope and the one record.
/// The source's parser (<see cref="OtlpRecordParser"/>) maps it to an event on a parse worker like any line. One
/// record is one raw line, so received = admitted + refused + dropped holds per record, dead letters and drops
/// count records, and every record has its own id <c>source:start-epoch-ms:request#:record#</c> (records numbered
/// from 1 across the whole request, in order).</para>
/// <para>The records of one request share one <see cref="Acknowledgement"/> (a reference each), as the lines of
/// one <c>/ingest</c> request do.</para>
/// <para>A record is rejected (partial success, counted as refused: the client is told) when its trace or span id
/// has the wrong length, or its envelope is longer than <see cref="SourceOptions.MaxLineBytes"/>.</para>
/// </remarks>
internal static class OtlpIntake
{
    public static async Task<OtlpExportResult> ExportAsync(KestrelSource source, ExportLogsServiceRequest request, CancellationToken aborted)
    {
        var info = source.Info;
        var options = source.Settings;
        var prefix = source.NextRequestPrefix();
        var now = source.Clock.GetUtcNow();
        var lines = new List<RawLine>();
        var rejected = 0;
        string? firstProblem = null;
        var number = 0;
        foreach (var resourceLogs in request.ResourceLogs)
        {
            var envelope = new ResourceLogs { Resource = resourceLogs.Resource, SchemaUrl = resourceLogs.SchemaUrl };
            var scopeLogs = new ScopeLogs();
            envelope.ScopeLogs.Add(scopeLogs);
            foreach (var scope in resourceLogs.ScopeLogs)
            {
                scopeLogs.Scope = scope.Scope;
                scopeLogs.SchemaUrl = scope.SchemaUrl;
                foreach (var record in scope.LogRecords)
                {
                    number++;
                    var problem = Check(record);
                    byte[]? data = null;
                    if (problem is null)
                    {
                        scopeLogs.LogRecords.Add(record);
                        data = envelope.ToByteArray();
                        scopeLogs.LogRecords.Clear();
                        if (data.Length > options.MaxLineBytes)
                        {
                            problem = $"record {number} is {data.Length} bytes, over the maximum of {options.MaxLineBytes}";
                        }
                    }

                    if (problem is not null)
                    {
                        rejected++;
                        firstProblem ??= problem;
                        continue;
                    }

                    lines.Add(new RawLine(data!, info, prefix + number.ToString(CultureInfo.InvariantCulture), now));
                }
            }
        }

        var message = firstProblem is null ? null : rejected == 1 ? firstProblem : $"{rejected} records rejected; the first: {firstProblem}";
        if (lines.Count == 0)
        {
            info.OnReceived(rejected);
            info.OnRefused(rejected);
            return new OtlpExportResult(Admission.Admitted, 0, rejected, message);
        }

        if (HttpIntake.CheckFits(lines, source.MainCapacity, source.MainMaxBytes) is { } tooLarge)
        {
            return new OtlpExportResult(Admission.Full, 0, 0, tooLarge, TooLarge: true);
        }

        info.OnReceived(lines.Count + rejected);
        info.OnRefused(rejected);
        if (source.IsStopping)
        {
            info.OnRefused(lines.Count);
            return new OtlpExportResult(Admission.Stopped, 0, 0, "the service is stopping");
        }

        // Success is answered only from here on: the records are in the main buffer, or on disk when it is durable.
        var (admission, ack) = await HttpIntake.AdmitAsync(source.Writer, lines, options.BlockTimeout, aborted).ConfigureAwait(false);
        source.OnRequestAcknowledgement(ack);
        if (admission == Admission.Admitted)
        {
            info.OnAdmitted(lines.Count);
            return new OtlpExportResult(admission, lines.Count, rejected, message);
        }

        info.OnRefused(lines.Count);
        return new OtlpExportResult(admission, 0, 0, HttpIntake.Refusal(source.Writer, admission));
    }

    private static string? Check(LogRecord record)
    {
        if (record.TraceId.Length is not (0 or 16))
        {
            return $"trace id must be 16 bytes (32 hex digits), was {record.TraceId.Length} bytes";
        }

        return record.SpanId.Length is not (0 or 8) ? $"span id must be 8 bytes (16 hex digits), was {record.SpanId.Length} bytes" : null;
    }
}
