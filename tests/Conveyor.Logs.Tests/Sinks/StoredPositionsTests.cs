using Conveyor.Logs.Sinks.DuckDb;

namespace Conveyor.Logs.Tests.Sinks;

public sealed class StoredPositionsTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("tcp:1700000000000:3:42", "tcp:1700000000000:3", 42)]
    [InlineData("/var/log/a.log:2:1024", "/var/log/a.log:2", 1024)]
    [InlineData("stdin:7", "stdin", 7)]
    [InlineData("no-position", "no-position", StoredPositions.NoPosition)]
    [InlineData("trailing:", "trailing:", StoredPositions.NoPosition)]
    [InlineData("neg:-5", "neg:-5", StoredPositions.NoPosition)]
    [InlineData("huge:123456789012345678901234", "huge:123456789012345678901234", StoredPositions.NoPosition)]
    public void Split_Id_GivesStreamAndPosition(string id, string stream, long position)
    {
        var (s, p) = StoredPositions.Split(id);
        Assert.Equal(stream, s.ToString());
        Assert.Equal(position, p);
    }

    [Fact]
    public void Add_RunsThatTouch_Join_AndGapsStayOpen()
    {
        var set = new StoredPositions(100);
        set.Add(StoredPositions.Coalesce([("s", 1), ("s", 2), ("s", 3), ("s", 7), ("s", 8)]), Now);
        Assert.Equal(2, set.RangeCount);
        Assert.False(set.Contains("s", 5));
        set.Add([new StreamRange("s", 4, 4)], Now);
        Assert.Equal(2, set.RangeCount);
        Assert.False(set.Contains("s", 6));
        set.Add([new StreamRange("s", 5, 6)], Now);
        Assert.Equal(1, set.RangeCount);
        Assert.True(Enumerable.Range(1, 8).All(i => set.Contains("s", i)));
        Assert.False(set.Contains("s", 0));
        Assert.False(set.Contains("s", 9));
        Assert.False(set.Contains("t", 3));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Coalesce_InOrderOrShuffled_GivesTheSameSortedRuns(bool shuffled)
    {
        List<(string, long)> positions = [("a", 1), ("a", 2), ("a", 3), ("a", 5), ("b", 0), ("b", 1), ("b", 9)];
        if (shuffled)
        {
            positions.Reverse();
        }

        Assert.Equal([new StreamRange("a", 1, 3), new StreamRange("a", 5, 5), new StreamRange("b", 0, 1), new StreamRange("b", 9, 9)], StoredPositions.Coalesce(positions));
    }

    [Fact]
    public void Add_RandomRuns_ContainsExactlyWhatWasAdded()
    {
        // Stress: random runs over 2,000 positions; after each, membership equals a plain set's.
        var random = new Random(42);
        var set = new StoredPositions(10_000);
        var expected = new HashSet<long>();
        for (var round = 0; round < 500; round++)
        {
            var lo = random.Next(2000);
            var hi = lo + random.Next(5);
            set.Add([new StreamRange("s", lo, hi)], Now);
            for (long p = lo; p <= hi; p++)
            {
                expected.Add(p);
            }

            var probe = random.Next(2010);
            Assert.Equal(expected.Contains(probe), set.Contains("s", probe));
        }

        Assert.All(Enumerable.Range(0, 2010), p => Assert.Equal(expected.Contains(p), set.Contains("s", p)));
    }

    [Fact]
    public void Prune_IdleStreams_AreForgotten_AndCapDropsLowestRuns()
    {
        var set = new StoredPositions(2);
        set.Add([new StreamRange("old", 0, 9)], Now.AddHours(-30));
        set.Add([new StreamRange("new", 0, 0), new StreamRange("new", 2, 2), new StreamRange("new", 4, 4)], Now);
        Assert.Equal(1, set.Prune(Now.AddHours(-24)));
        Assert.Equal(1, set.StreamCount);
        Assert.False(set.Contains("new", 0));
        Assert.True(set.Contains("new", 2));
        Assert.True(set.Contains("new", 4));
    }
}
