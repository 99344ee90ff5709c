using System.Buffers;
using Conveyor.Logs.Parsing;

namespace Conveyor.Logs.Sources.Framing;

/// <summary>
/// Splits a byte stream into LF-terminated lines (a CR before the LF is dropped), with the same contract as
/// <see cref="SyslogFramer"/>, so one connection loop serves both: a line longer than the maximum is reported once
/// as <see cref="FrameStatus.Oversized"/> with its first <see cref="Model.RawLine.EvidenceBytes"/> bytes as the frame,
/// and the rest is skipped as it arrives, never buffered or split.
/// </summary>
/// <remarks>One framer per stream; not thread-safe.</remarks>
public sealed class LineFramer
{
    private bool _skipToLf;

    /// <summary>Creates a framer for lines of at most <paramref name="maxLineBytes"/> bytes.</summary>
    public LineFramer(int maxLineBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLineBytes, 1);
        MaxLineBytes = maxLineBytes;
    }

    /// <summary>The longest line accepted.</summary>
    public int MaxLineBytes { get; }

    /// <summary>Reads the next line off the front of <paramref name="buffer"/>; see <see cref="SyslogFramer.TryRead"/>.</summary>
    public FrameStatus TryRead(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> line)
    {
        line = default;
        while (true)
        {
            var lf = buffer.PositionOf((byte)'\n');
            if (_skipToLf)
            {
                if (lf is null)
                {
                    buffer = buffer.Slice(buffer.End);
                    return FrameStatus.NeedMoreData;
                }

                buffer = buffer.Slice(buffer.GetPosition(1, lf.Value));
                _skipToLf = false;
                continue;
            }

            if (lf is null)
            {
                if (buffer.Length > MaxLineBytes)
                {
                    // Keep the head for the dead letter; the rest of the line is skipped without buffering it.
                    line = buffer.Slice(0, Math.Min(MaxLineBytes, Model.RawLine.EvidenceBytes));
                    buffer = buffer.Slice(buffer.End);
                    _skipToLf = true;
                    return FrameStatus.Oversized;
                }

                return FrameStatus.NeedMoreData;
            }

            var candidate = buffer.Slice(0, lf.Value);
            buffer = buffer.Slice(buffer.GetPosition(1, lf.Value));
            if (candidate.Length > MaxLineBytes)
            {
                line = candidate.Slice(0, Math.Min(MaxLineBytes, Model.RawLine.EvidenceBytes));
                return FrameStatus.Oversized;
            }

            if (!candidate.IsEmpty && EndsWithCr(candidate))
            {
                candidate = candidate.Slice(0, candidate.Length - 1);
            }

            line = candidate;
            return FrameStatus.Frame;
        }
    }

    private static bool EndsWithCr(in ReadOnlySequence<byte> s)
    {
        if (s.IsSingleSegment)
        {
            return s.FirstSpan[^1] == (byte)'\r';
        }

        return s.Slice(s.Length - 1).FirstSpan[0] == (byte)'\r';
    }
}
