using System.Text;
using Conveyor.Logs.Parsing;

namespace Conveyor.Logs.Tests.Parsing;

public sealed class RepeatedStringsTests
{
    [Fact]
    public void Decode_SameBytesTwice_ReturnsTheSameStringInstance()
    {
        var cache = new RepeatedStrings();
        var first = cache.Decode("Mozilla/5.0 (X11; Linux x86_64)"u8);
        var second = cache.Decode(Encoding.UTF8.GetBytes("Mozilla/5.0 (X11; Linux x86_64)"));
        Assert.Equal("Mozilla/5.0 (X11; Linux x86_64)", first);
        Assert.Same(first, second);
    }

    [Fact]
    public void Decode_NonAscii_DecodedEachTimeAndRightEachTime()
    {
        var cache = new RepeatedStrings();
        var bytes = Encoding.UTF8.GetBytes("Agent/1 – üñí");
        var first = cache.Decode(bytes);
        var second = cache.Decode(bytes);
        Assert.Equal("Agent/1 – üñí", first);
        Assert.Equal(first, second);
        Assert.NotSame(first, second);
        Assert.Equal("\uFFFDx", cache.Decode([0xFF, (byte)'x']));
    }

    [Fact]
    public void Decode_ValuesCollidingInTwoSlotsFromFourThreads_EveryResultEqualsThePlainDecode()
    {
        var cache = new RepeatedStrings(slots: 2);
        var values = Enumerable.Range(0, 64).Select(i => Encoding.ASCII.GetBytes($"agent-{i}-{new string('x', i)}")).ToArray();
        var wrong = 0;
        Parallel.For(0, 4, t =>
        {
            for (var n = 0; n < 50_000; n++)
            {
                var bytes = values[(n * 7 + t) % values.Length];
                if (cache.Decode(bytes) != Encoding.ASCII.GetString(bytes))
                {
                    Interlocked.Increment(ref wrong);
                }
            }
        });
        Assert.Equal(0, wrong);
    }

    [Fact]
    public void Decode_EmptyAndOverLong_DecodedPlainly()
    {
        var cache = new RepeatedStrings(maxLength: 4);
        Assert.Same(string.Empty, cache.Decode([]));
        var longer = cache.Decode("abcdef"u8);
        Assert.Equal("abcdef", longer);
        Assert.NotSame(longer, cache.Decode("abcdef"u8));
    }
}
