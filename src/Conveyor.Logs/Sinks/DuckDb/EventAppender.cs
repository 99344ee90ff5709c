using DuckDB.NET.Data;
using DuckDB.NET.Native;
using NativeAppender = DuckDB.NET.Native.DuckDBAppender;

namespace Conveyor.Logs.Sinks.DuckDb;

/// <summary>
/// Appends <see cref="DuckDbBatch"/>'s prepared rows to <c>events</c> through DuckDB's C appender and data chunks: each
/// value goes straight into its column's vector (numbers and times as they are stored, text as the UTF-8 the preparation
/// wrote), a full chunk of <c>duckdb_vector_size()</c> rows at a time. One appender per batch write, on that write's
/// connection and inside its transaction.
/// </summary>
/// <remarks>
/// <para>Why not DuckDB.NET's <see cref="DuckDB.NET.Data.DuckDBAppender"/>: it takes text as .NET strings (so every body
/// was decoded from the received bytes into a string only to be encoded back, ~400 bytes of garbage per access-log line)
/// or as bytes through <c>duckdb_vector_assign_string_element_len</c>, whose scalar UTF-8 check cost more than the
/// transcoding; and it dispatches every value on its type. Here the text is UTF-8 already and valid by construction
/// (encoded from strings, or received bytes that <see cref="System.Text.Unicode.Utf8.IsValid"/> passed), so it goes
/// through <c>duckdb_unsafe_vector_assign_string_element_len</c>, which copies without checking; and a length, not a
/// terminating NUL, ends each value, so a NUL inside text is stored like any other character.</para>
/// <para>What holds: the table's columns are checked against <see cref="Layout"/> when the appender is made, so a schema
/// this code does not know fails the write with the column named, never stores values in the wrong column. A NULL
/// clears the row's bit in the column's validity mask (an array of 64-bit words, bit set = valid, as <c>duckdb.h</c>
/// documents), made writable on the first NULL after each chunk reset. Any failure of DuckDB is a
/// <see cref="SinkException"/> classified like the sink's others (<see cref="DuckDbSink.Classify(string, Exception?)"/>).</para>
/// </remarks>
internal sealed unsafe class EventAppender : IDisposable
{
    /// <summary>The <c>events</c> columns in table order, as <see cref="DuckDbSchema"/> creates them.</summary>
    internal static readonly (string Name, DuckDBType Type)[] Layout =
    [
        ("ts", DuckDBType.Timestamp), ("ts_offset", DuckDBType.Integer), ("observed_ts", DuckDBType.Timestamp),
        ("observed_offset", DuckDBType.Integer), ("severity_number", DuckDBType.Integer), ("severity_text", DuckDBType.Varchar),
        ("status", DuckDBType.Integer), ("method", DuckDBType.Varchar), ("client", DuckDBType.Varchar), ("url", DuckDBType.Varchar),
        ("user_agent", DuckDBType.Varchar), ("source", DuckDBType.Varchar), ("id", DuckDBType.Varchar), ("body", DuckDBType.Varchar),
        ("trace_id", DuckDBType.Varchar), ("span_id", DuckDBType.Varchar), ("trace_flags", DuckDBType.Integer),
        ("event_name", DuckDBType.Varchar), ("attributes", DuckDBType.Varchar), ("resource", DuckDBType.Varchar),
    ];

    private readonly NativeAppender _appender;
    private readonly DuckDBDataChunk _chunk;
    private readonly IntPtr[] _vectors = new IntPtr[Layout.Length];
    private readonly IntPtr[] _data = new IntPtr[Layout.Length];
    private readonly IntPtr[] _validity = new IntPtr[Layout.Length];
    private readonly ulong _capacity;
    private ulong _row;
    private bool _closed;

    private EventAppender(NativeAppender appender, DuckDBDataChunk chunk)
    {
        _appender = appender;
        _chunk = chunk;
        _capacity = NativeMethods.Helpers.DuckDBVectorSize();
        for (var c = 0; c < Layout.Length; c++)
        {
            _vectors[c] = NativeMethods.DataChunks.DuckDBDataChunkGetVector(_chunk, c);
        }

        ResetPointers();
    }

    /// <summary>An appender on <paramref name="connection"/>'s <c>events</c> table.</summary>
    /// <exception cref="SinkException">DuckDB refused the appender, or the table's columns are not <see cref="Layout"/>.</exception>
    public static EventAppender Create(DuckDBConnection connection)
    {
        if (NativeMethods.Appender.DuckDBAppenderCreate(connection.NativeConnection, null, "events", out var appender) != DuckDBState.Success)
        {
            var message = Error(appender);
            appender.Dispose();
            throw DuckDbSink.Classify($"cannot append to events: {message}", null);
        }

        var types = new DuckDBLogicalType[Layout.Length];
        try
        {
            var count = NativeMethods.Appender.DuckDBAppenderColumnCount(appender);
            if (count != (ulong)Layout.Length)
            {
                throw new SinkException($"DuckDB table events has {count} columns, this Conveyor writes {Layout.Length}", isTransient: false);
            }

            for (var c = 0; c < Layout.Length; c++)
            {
                types[c] = NativeMethods.Appender.DuckDBAppenderColumnType(appender, (ulong)c);
                var type = NativeMethods.LogicalType.DuckDBGetTypeId(types[c]);
                if (type != Layout[c].Type)
                {
                    throw new SinkException($"DuckDB column events.{Layout[c].Name} (number {c + 1}) is {type}, this Conveyor writes {Layout[c].Type}", isTransient: false);
                }
            }

            var chunk = NativeMethods.DataChunks.DuckDBCreateDataChunk([.. types.Select(t => t.DangerousGetHandle())], (ulong)Layout.Length);
            return new EventAppender(appender, chunk);
        }
        catch
        {
            appender.Dispose();
            throw;
        }
        finally
        {
            foreach (var t in types)
            {
                t?.Dispose();
            }
        }
    }

    /// <summary>Appends one prepared row; <paramref name="text"/> is the batch's text buffer its values point into.</summary>
    public void Append(in DuckDbBatch.Row row, ReadOnlySpan<byte> text)
    {
        if (_row == _capacity)
        {
            Flush();
        }

        var r = _row;
        Int64(0, r, row.TsMicros);
        Int32(1, r, row.TsOffset);
        Int64(2, r, row.ObservedMicros);
        Int32(3, r, row.ObservedOffset);
        Int32(4, r, row.SeverityNumber);
        fixed (byte* t = text)
        {
            String(5, r, t, row.SeverityText);
            Int32(6, r, row.Status);
            String(7, r, t, row.Method);
            String(8, r, t, row.Client);
            String(9, r, t, row.Url);
            String(10, r, t, row.UserAgent);
            String(11, r, t, row.Source);
            String(12, r, t, row.Id);
            String(13, r, t, row.Body);
            String(14, r, t, row.TraceId);
            String(15, r, t, row.SpanId);
            Int32(16, r, row.TraceFlags);
            String(17, r, t, row.EventName);
            String(18, r, t, row.Attributes);
            String(19, r, t, row.Resource);
        }

        _row = r + 1;
    }

    /// <summary>Appends the last partial chunk and closes the appender (its rows join the transaction).</summary>
    /// <exception cref="SinkException">DuckDB refused the rows.</exception>
    public void Close()
    {
        if (_row > 0)
        {
            Flush();
        }

        _closed = true;
        if (NativeMethods.Appender.DuckDBAppenderClose(_appender) != DuckDBState.Success)
        {
            throw DuckDbSink.Classify($"append to events failed: {Error(_appender)}", null);
        }
    }

    public void Dispose()
    {
        if (!_closed)
        {
            // A write that failed half-way: drop what the appender holds (the transaction rolls back anyway).
            _closed = true;
            NativeMethods.Appender.DuckDBAppenderClear(_appender);
        }

        _chunk.Dispose();
        _appender.Dispose();
    }

    private void Flush()
    {
        NativeMethods.DataChunks.DuckDBDataChunkSetSize(_chunk, _row);
        if (NativeMethods.Appender.DuckDBAppendDataChunk(_appender, _chunk) != DuckDBState.Success)
        {
            throw DuckDbSink.Classify($"append to events failed: {Error(_appender)}", null);
        }

        NativeMethods.DataChunks.DuckDBDataChunkReset(_chunk);
        ResetPointers();
        _row = 0;
    }

    /// <summary>After a reset a vector's buffer may move and its validity is all-valid again (not writable until asked).</summary>
    private void ResetPointers()
    {
        for (var c = 0; c < Layout.Length; c++)
        {
            _data[c] = (IntPtr)NativeMethods.Vectors.DuckDBVectorGetData(_vectors[c]);
            _validity[c] = IntPtr.Zero;
        }
    }

    private void Int64(int column, ulong row, long value) => ((long*)_data[column])[row] = value;

    private void Int32(int column, ulong row, int value) => ((int*)_data[column])[row] = value;

    private void Int32(int column, ulong row, int? value)
    {
        if (value is { } v)
        {
            ((int*)_data[column])[row] = v;
        }
        else
        {
            Null(column, row);
        }
    }

    private void String(int column, ulong row, byte* text, DuckDbBatch.Text value)
    {
        if (value.Length < 0)
        {
            Null(column, row);
        }
        else
        {
            NativeMethods.Vectors.DuckDBUnsafeVectorAssignStringElementLength(_vectors[column], row, text + value.Start, value.Length);
        }
    }

    private void Null(int column, ulong row)
    {
        if (_validity[column] == IntPtr.Zero)
        {
            NativeMethods.Vectors.DuckDBVectorEnsureValidityWritable(_vectors[column]);
            _validity[column] = (IntPtr)NativeMethods.Vectors.DuckDBVectorGetValidity(_vectors[column]);
        }

        ((ulong*)_validity[column])[row >> 6] &= ~(1UL << (int)(row & 63));
    }

    private static string Error(NativeAppender appender)
    {
        using var error = NativeMethods.Appender.DuckDBAppenderErrorData(appender);
        return NativeMethods.ErrorData.DuckDBErrorDataMessage(error);
    }
}
