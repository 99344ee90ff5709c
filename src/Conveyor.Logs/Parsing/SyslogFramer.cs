using System.Buffers;

namespace Conveyor.Logs.Parsing;

/// <summary>What <see cref="SyslogFramer.TryRead"/> found.</summary>
public enum FrameStatus
{
    /// <summary>No complete frame is buffered; read more bytes and call again.</summary>
    NeedMoreData,

    /// <summary>A frame was returned.</summary>
    Frame,

    /// <summary>A frame longer than the maximum was found; it is being discarded whole (never split into pieces).</summary>
    Oversized,
}

/// <summary>
/// Splits a syslog TCP stream into frames (RFC 6587), detecting the framing per frame: a frame that starts with
/// <c>NONZERO-DIGIT *DIGIT SP</c> is octet-counted (<c>LEN SP MSG</c>; LF and CR bytes ending MSG are dropped, see
/// <see cref="WithoutLineEnd"/>), anything else runs to the next LF (non-transparent framing; a CR before the LF is
/// dropped). Empty LF frames are skipped.
/// </summary>
/// <remarks>
/// One framer per connection: it keeps the state of a frame being discarded across calls, so it is not thread-safe.
/// A frame longer than <see cref="MaxFrameLength"/> is reported once as <see cref="FrameStatus.Oversized"/>, with its
/// first bytes (up to <see cref="Model.RawLine.EvidenceBytes"/>) as the frame for the dead letter, and the rest is
/// consumed as it arrives without being buffered, so a hostile sender cannot grow memory.
/// </remarks>
public sealed class SyslogFramer
{
    private const int MaxLengthDigits = 10;
    private long _skipBytes;
    private bool _skipToLf;

    /// <summary>Creates a framer.</summary>
    /// <param name="maxFrameLength">The longest frame accepted, in bytes. Default: 65,536.</param>
    public SyslogFramer(int maxFrameLength = 64 * 1024)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFrameLength, 1);
        MaxFrameLength = maxFrameLength;
    }

    /// <summary>The longest frame accepted, in bytes.</summary>
    public int MaxFrameLength { get; }

    /// <summary>How many first bytes of an oversized frame are returned as its frame: <see cref="Model.RawLine.EvidenceBytes"/> or the maximum, if smaller.</summary>
    private int EvidenceLength => Math.Min(MaxFrameLength, Model.RawLine.EvidenceBytes);

    /// <summary>The length the last <see cref="FrameStatus.Oversized"/> frame declared, or -1 when not known (LF framing).</summary>
    public long LastOversizedLength { get; private set; } = -1;

    /// <summary>
    /// Reads the next frame from <paramref name="buffer"/>, slicing consumed bytes off its front. Call until it returns
    /// <see cref="FrameStatus.NeedMoreData"/>, then keep the unconsumed rest (<c>buffer.Start</c>) and read more.
    /// </summary>
    public FrameStatus TryRead(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> frame)
    {
        frame = default;
        while (true)
        {
            if (!Skip(ref buffer))
            {
                return FrameStatus.NeedMoreData;
            }

            if (buffer.IsEmpty)
            {
                return FrameStatus.NeedMoreData;
            }

            var reader = new SequenceReader<byte>(buffer);
            reader.TryPeek(out var first);
            if (first is >= (byte)'1' and <= (byte)'9')
            {
                var status = TryReadOctetCounted(ref buffer, out frame, out var isOctetCounted);
                if (isOctetCounted && !(status == FrameStatus.Frame && frame.IsEmpty))
                {
                    return status;
                }

                if (isOctetCounted)
                {
                    // A frame of nothing but a line end, skipped like an empty LF frame.
                    continue;
                }
            }

            if (!reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n'))
            {
                if (buffer.Length > MaxFrameLength)
                {
                    LastOversizedLength = -1;
                    frame = buffer.Slice(0, EvidenceLength);
                    buffer = buffer.Slice(buffer.End);
                    _skipToLf = true;
                    return FrameStatus.Oversized;
                }

                return FrameStatus.NeedMoreData;
            }

            buffer = buffer.Slice(reader.Position);
            if (line.Length > 0 && EndsWithCr(line))
            {
                line = line.Slice(0, line.Length - 1);
            }

            if (line.Length > MaxFrameLength)
            {
                LastOversizedLength = line.Length;
                frame = line.Slice(0, EvidenceLength);
                return FrameStatus.Oversized;
            }

            if (line.Length == 0)
            {
                continue;
            }

            frame = line;
            return FrameStatus.Frame;
        }
    }

    /// <summary>At end of stream: the unterminated last LF frame, if any bytes remain and none are being discarded.</summary>
    public bool TryReadFinal(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> frame)
    {
        frame = default;
        if (_skipBytes > 0 || _skipToLf || buffer.IsEmpty || buffer.Length > MaxFrameLength)
        {
            buffer = buffer.Slice(buffer.End);
            return false;
        }

        frame = EndsWithCr(buffer) ? buffer.Slice(0, buffer.Length - 1) : buffer;
        buffer = buffer.Slice(buffer.End);
        return !frame.IsEmpty;
    }

    private FrameStatus TryReadOctetCounted(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> frame, out bool isOctetCounted)
    {
        frame = default;
        isOctetCounted = false;
        var reader = new SequenceReader<byte>(buffer);
        long length = 0;
        var digits = 0;
        while (reader.TryRead(out var b))
        {
            if (b == ' ' && digits > 0)
            {
                isOctetCounted = true;
                break;
            }

            if (!Utf8.IsDigit(b) || digits == MaxLengthDigits)
            {
                // Not LEN SP: the frame is LF-framed after all.
                return FrameStatus.NeedMoreData;
            }

            length = (length * 10) + (b - '0');
            digits++;
        }

        if (!isOctetCounted)
        {
            // Only digits so far: decide once more bytes arrive. Claim the frame so the caller waits.
            isOctetCounted = true;
            return FrameStatus.NeedMoreData;
        }

        if (length > MaxFrameLength)
        {
            // Wait for the head (a bounded few KiB) so the dead letter shows what was sent; the rest is skipped unread.
            if (reader.Remaining < EvidenceLength)
            {
                return FrameStatus.NeedMoreData;
            }

            frame = buffer.Slice(reader.Position, EvidenceLength);
            buffer = buffer.Slice(reader.Position);
            LastOversizedLength = length;
            _skipBytes = length;
            return FrameStatus.Oversized;
        }

        if (reader.Remaining < length)
        {
            return FrameStatus.NeedMoreData;
        }

        frame = buffer.Slice(reader.Position, length);
        buffer = buffer.Slice(frame.End);
        frame = WithoutLineEnd(frame);
        return FrameStatus.Frame;
    }

    /// <summary>Consumes bytes of a frame being discarded; false when the buffer ran out first.</summary>
    private bool Skip(ref ReadOnlySequence<byte> buffer)
    {
        if (_skipBytes > 0)
        {
            var n = Math.Min(_skipBytes, buffer.Length);
            buffer = buffer.Slice(n);
            _skipBytes -= n;
            if (_skipBytes > 0)
            {
                return false;
            }
        }

        if (_skipToLf)
        {
            var lf = buffer.PositionOf((byte)'\n');
            if (lf is null)
            {
                buffer = buffer.Slice(buffer.End);
                return false;
            }

            buffer = buffer.Slice(buffer.GetPosition(1, lf.Value));
            _skipToLf = false;
        }

        return true;
    }

    /// <summary>
    /// An octet-counted frame without trailing LF and CR bytes: rsyslog's <c>RSYSLOG_SyslogProtocol23Format</c> ends
    /// every message with a LF that the octet count includes. It terminates the record, as it does in LF framing and
    /// in a UDP datagram, and is not part of MSG.
    /// </summary>
    private static ReadOnlySequence<byte> WithoutLineEnd(ReadOnlySequence<byte> frame)
    {
        while (frame.Length > 0 && LastByte(frame) is (byte)'\n' or (byte)'\r')
        {
            frame = frame.Slice(0, frame.Length - 1);
        }

        return frame;
    }

    private static byte LastByte(ReadOnlySequence<byte> s)
    {
        var reader = new SequenceReader<byte>(s);
        reader.Advance(s.Length - 1);
        reader.TryPeek(out var last);
        return last;
    }

    private static bool EndsWithCr(ReadOnlySequence<byte> s) => LastByte(s) == '\r';
}
