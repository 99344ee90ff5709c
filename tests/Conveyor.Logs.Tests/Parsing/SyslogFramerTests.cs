using System.Buffers;
using System.Text;
using Conveyor.Logs.Parsing;

namespace Conveyor.Logs.Tests.Parsing;

public sealed class SyslogFramerTests
{
    private const string Frame1 = "<86>1 2015-08-05T21:58:59.693Z 192.168.2.132 inactive - - -  partition is p2 ";
    private const string Frame2 = "<34>Feb  4 11:14:27 1.2.3.4 apache_server: test message";

    /// <summary>Feeds <paramref name="stream"/> in chunks of <paramref name="chunk"/> bytes, as a TCP source would, and collects frames and oversize reports.</summary>
    private static List<string> Frames(SyslogFramer framer, byte[] stream, int chunk)
    {
        var frames = new List<string>();
        var pending = Array.Empty<byte>();
        for (var offset = 0; offset < stream.Length; offset += chunk)
        {
            var piece = stream.AsSpan(offset, Math.Min(chunk, stream.Length - offset)).ToArray();
            var buffer = Segmented([.. pending, .. piece]);
            while (true)
            {
                var status = framer.TryRead(ref buffer, out var frame);
                if (status == FrameStatus.NeedMoreData)
                {
                    break;
                }

                frames.Add(status == FrameStatus.Frame ? Encoding.UTF8.GetString(frame) : "<oversized:" + Encoding.UTF8.GetString(frame) + ">");
            }

            pending = buffer.ToArray();
        }

        var rest = new ReadOnlySequence<byte>(pending);
        if (framer.TryReadFinal(ref rest, out var last))
        {
            frames.Add(Encoding.UTF8.GetString(last));
        }

        return frames;
    }

    /// <summary>A sequence of one-byte segments, so frames cross segment boundaries everywhere.</summary>
    private static ReadOnlySequence<byte> Segmented(byte[] bytes)
    {
        if (bytes.Length < 2)
        {
            return new ReadOnlySequence<byte>(bytes);
        }

        var first = new Segment(bytes.AsMemory(0, 1), 0);
        var last = first;
        for (var i = 1; i < bytes.Length; i++)
        {
            last = last.Append(bytes.AsMemory(i, 1));
        }

        return new ReadOnlySequence<byte>(first, 0, last, 1);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(64)]
    [InlineData(4096)]
    public void TryRead_MixedFramingSplitAnywhere_YieldsEachFrameWhole(int chunk)
    {
        var stream = Encoding.UTF8.GetBytes($"{Encoding.UTF8.GetByteCount(Frame1)} {Frame1}{Frame2}\n{Encoding.UTF8.GetByteCount(Frame2)} {Frame2}{Frame2}\r\n");
        var frames = Frames(new SyslogFramer(), stream, chunk);
        Assert.Equal([Frame1, Frame2, Frame2, Frame2], frames);
    }

    [Fact]
    public void TryRead_OctetCountedFrameContainingLf_KeepsTheLf()
    {
        var message = "<13>1 - - - - - - line one\nline two";
        var stream = Encoding.UTF8.GetBytes($"{message.Length} {message}");
        Assert.Equal([message], Frames(new SyslogFramer(), stream, 3));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(4096)]
    public void TryRead_OctetCountedFrameEndingInLf_DropsTheLineEnd(int chunk)
    {
        // rsyslog's RSYSLOG_SyslogProtocol23Format ends MSG with a LF that the octet count includes (rsyslog#4384).
        const string message = "<174>1 2020-08-21T13:32:18.596113+02:00 host TestLogging - - -  test";
        var crlf = message + "\r\n";
        var stream = Encoding.UTF8.GetBytes($"{message.Length + 1} {message}\n{crlf.Length} {crlf}2 \r\n{Frame2.Length} {Frame2}");
        Assert.Equal([message, message, Frame2], Frames(new SyslogFramer(), stream, chunk));
    }

    [Fact]
    public void TryRead_OctetCountedProtocol23Frame_ParsesToTheBodyWithoutLf()
    {
        const string message = "<174>1 2020-08-21T13:32:18.596113+02:00 host TestLogging - - -  test\n";
        var frames = Frames(new SyslogFramer(), Encoding.UTF8.GetBytes($"{message.Length} {message}"), 4096);
        var e = LogParsers.Create("syslog").Parse(Encoding.UTF8.GetBytes(Assert.Single(frames)), new LineContext("s", "s:1", DateTimeOffset.UnixEpoch)).Event;
        Assert.NotNull(e);
        Assert.Equal(" test", e.Body);
    }

    [Fact]
    public void TryRead_OversizedOctetCountedFrame_ReportedOnceAndSkippedWhole()
    {
        var big = new string('x', 100);
        var stream = Encoding.UTF8.GetBytes($"100 {big}{Frame2.Length} {Frame2}");
        var framer = new SyslogFramer(maxFrameLength: 60);
        Assert.Equal(["<oversized:" + big[..60] + ">", Frame2], Frames(framer, stream, 5));
        Assert.Equal(100, framer.LastOversizedLength);
    }

    [Fact]
    public void TryRead_OversizedLfFrameWithoutLfYet_ReportedOnceAndSkippedToNextLf()
    {
        var stream = Encoding.UTF8.GetBytes(new string('y', 300) + "\n" + Frame2 + "\n");
        Assert.Equal(["<oversized:" + new string('y', 80) + ">", Frame2], Frames(new SyslogFramer(maxFrameLength: 80), stream, 16));
    }

    [Fact]
    public void TryRead_OversizedFrameOverTheEvidenceSize_KeepsItsFirstBytesOnly()
    {
        var big = "<13>1 " + new string('z', 70_000);
        var stream = Encoding.UTF8.GetBytes($"{big.Length} {big}{Frame2.Length} {Frame2}");
        var frames = Frames(new SyslogFramer(), stream, 1500);
        Assert.Equal(["<oversized:" + big[..Conveyor.Logs.Model.RawLine.EvidenceBytes] + ">", Frame2], frames);
    }

    [Fact]
    public void TryRead_EmptyLines_AreSkipped()
    {
        var stream = Encoding.UTF8.GetBytes("\n\r\n" + Frame2 + "\n\n");
        Assert.Equal([Frame2], Frames(new SyslogFramer(), stream, 1));
    }

    [Fact]
    public void TryRead_DigitsNotFollowedBySpace_FallBackToLfFraming()
    {
        var stream = Encoding.UTF8.GetBytes("2024-01-01T00:00:00Z host app: hi\n");
        Assert.Equal(["2024-01-01T00:00:00Z host app: hi"], Frames(new SyslogFramer(), stream, 4));
    }

    [Fact]
    public void TryReadFinal_UnterminatedLastFrame_IsReturned()
    {
        Assert.Equal([Frame2], Frames(new SyslogFramer(), Encoding.UTF8.GetBytes(Frame2), 10));
    }

    [Fact]
    public void Frames_FromCorpusOctetCountedLine_ParseAsRfc5424()
    {
        var line = Corpus.Lines("syslog-variants.log")[58];
        var buffer = new ReadOnlySequence<byte>(line);
        var framer = new SyslogFramer();
        Assert.Equal(FrameStatus.Frame, framer.TryRead(ref buffer, out var frame));
        var outcome = LogParsers.Create("syslog5424").Parse(frame.ToArray(), new LineContext("t", "t:1", DateTimeOffset.UnixEpoch));
        Assert.Equal(" partition is p2 ", outcome.Event!.Body);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
