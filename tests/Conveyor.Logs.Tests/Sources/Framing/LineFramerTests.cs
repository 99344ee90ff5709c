using System.Buffers;
using System.Text;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Sources.Framing;

namespace Conveyor.Logs.Tests.Sources.Framing;

public sealed class LineFramerTests
{
    [Fact]
    public void TryRead_CrLfAndLf_YieldsLinesWithoutTerminators()
    {
        var frames = Frames(new LineFramer(100), "a\r\nbb\n\nccc\n", out var rest);
        Assert.Equal(["a", "bb", "", "ccc"], frames);
        Assert.Equal(0, rest);
    }

    [Fact]
    public void TryRead_LineOverMaximum_ReportedOnceThenSkippedToNextLf()
    {
        var framer = new LineFramer(4);
        var buffer = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes("0123456789"));
        Assert.Equal(FrameStatus.Oversized, framer.TryRead(ref buffer, out var head));
        Assert.Equal("0123", Encoding.UTF8.GetString(head.ToArray()));

        // The rest of the long line arrives later: skipped, never a second record.
        var frames = Frames(framer, "abcdef\nok\n", out _);
        Assert.Equal(["ok"], frames);
    }

    [Fact]
    public void TryRead_PartialLine_WaitsForMoreData()
    {
        var frames = Frames(new LineFramer(100), "done\nhalf", out var rest);
        Assert.Equal(["done"], frames);
        Assert.Equal(4, rest);
    }

    private static List<string> Frames(LineFramer framer, string text, out long rest)
    {
        var buffer = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(text));
        var list = new List<string>();
        while (framer.TryRead(ref buffer, out var frame) == FrameStatus.Frame)
        {
            list.Add(Encoding.UTF8.GetString(frame.ToArray()));
        }

        rest = buffer.Length;
        return list;
    }
}
