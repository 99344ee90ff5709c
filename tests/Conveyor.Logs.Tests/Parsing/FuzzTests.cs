using System.Diagnostics;
using System.Text;
using Conveyor.Logs.Parsing;

namespace Conveyor.Logs.Tests.Parsing;

/// <summary>Random bytes and mutated corpus lines never make a parser throw or stall.</summary>
public sealed class FuzzTests
{
    private const int RandomInputs = 300_000;
    private const int MutatedInputs = 750_000;
    // Generous: the machine is shared, so a GC pause or a neighbour's build can stall one call; a real hang cannot hide
    // under it, and quadratic behaviour is caught by the long adversarial lines below.
    private static readonly TimeSpan SlowestAllowed = TimeSpan.FromSeconds(2);
    private static readonly byte[] Interesting = "<>[]\"\\ -=:{}/.,0123456789TZ+\t\r\xff\x00ÿ{\"a\":"u8.ToArray();

    [Fact]
    public void Parse_OverAMillionHostileInputs_NeverThrowsNorStalls()
    {
        var parsers = LogParsers.BuiltInFormats.Select(f => LogParsers.Create(f)).ToArray();
        var auto = parsers[0];
        var random = new Random(20261127);
        var seeds = new[] { "apache-combined.log", "nginx-combined.log", "access-edge-cases.log", "syslog-rfc3164.log", "syslog-rfc5424.log", "syslog-variants.log", "json-access.log", "logfmt.log", "malformed.log" }
            .SelectMany(f => Corpus.Lines(f).Where((_, i) => i % 7 == 0))
            .Select(l => l.Length > 700 ? l[..700] : l)
            .ToArray();
        var context = new LineContext("fuzz", "fuzz:1", DateTimeOffset.UnixEpoch);
        var buffer = new byte[1024];
        long inputs = 0;

        for (var i = 0; i < RandomInputs; i++)
        {
            var length = random.Next(0, 160);
            for (var j = 0; j < length; j++)
            {
                buffer[j] = random.Next(3) == 0 ? Interesting[random.Next(Interesting.Length)] : (byte)random.Next(256);
            }

            Check(random.Next(4) == 0 ? parsers[random.Next(parsers.Length)] : auto, buffer.AsSpan(0, length), context);
            inputs++;
        }

        for (var i = 0; i < MutatedInputs; i++)
        {
            var seed = seeds[random.Next(seeds.Length)];
            var length = Mutate(seed, buffer, random);
            Check(random.Next(3) == 0 ? parsers[random.Next(parsers.Length)] : auto, buffer.AsSpan(0, length), context);
            inputs++;
        }

        Assert.True(inputs >= 1_000_000);
    }

    [Theory]
    [InlineData(" [01/")]
    [InlineData("\\\"")]
    [InlineData("<1>1 ")]
    [InlineData("{\"a\":")]
    [InlineData("a=\"")]
    [InlineData("[x@1 k=\"\\]")]
    [InlineData("Nov  3 ")]
    [InlineData("1, ")]
    public void Parse_MegabyteOfRepeatedFragment_StaysLinear(string fragment)
    {
        var line = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(fragment, (1 << 20) / fragment.Length)));
        var context = new LineContext("fuzz", "fuzz:1", DateTimeOffset.UnixEpoch);
        foreach (var format in LogParsers.BuiltInFormats)
        {
            var parser = LogParsers.Create(format);
            var started = Stopwatch.GetTimestamp();
            var outcome = parser.Parse(line, context);
            Assert.True(Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(2), $"{format} is not linear on repeated '{fragment}'");
            Assert.True(outcome.Succeeded ^ (outcome.DeadLetter is not null));
        }
    }

    private static void Check(ILogParser parser, ReadOnlySpan<byte> input, in LineContext context)
    {
        var started = Stopwatch.GetTimestamp();
        ParseOutcome outcome;
        try
        {
            outcome = parser.Parse(input, context);
        }
        catch (Exception ex)
        {
            Assert.Fail($"{parser.Name} threw {ex.GetType().Name} on {Convert.ToHexString(input)}: {ex.Message}");
            return;
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        Assert.True(elapsed < SlowestAllowed, $"{parser.Name} took {elapsed.TotalMilliseconds} ms on {Convert.ToHexString(input)}");
        Assert.True(outcome.Succeeded ^ (outcome.DeadLetter is not null));
        if (outcome.DeadLetter is { } dead)
        {
            Assert.False(dead.Reason.Contains("internal error", StringComparison.Ordinal), dead.Reason + " on " + Convert.ToHexString(input));
        }
    }

    /// <summary>1–4 random edits: overwrite, insert, delete, truncate.</summary>
    private static int Mutate(byte[] seed, byte[] buffer, Random random)
    {
        seed.CopyTo(buffer, 0);
        var length = seed.Length;
        var edits = random.Next(1, 5);
        for (var e = 0; e < edits; e++)
        {
            var at = length == 0 ? 0 : random.Next(length);
            var b = random.Next(2) == 0 ? Interesting[random.Next(Interesting.Length)] : (byte)random.Next(256);
            switch (random.Next(4))
            {
                case 0 when length > 0:
                    buffer[at] = b;
                    break;
                case 1 when length < buffer.Length:
                    Array.Copy(buffer, at, buffer, at + 1, length - at);
                    buffer[at] = b;
                    length++;
                    break;
                case 2 when length > 0:
                    var n = Math.Min(random.Next(1, 8), length - at);
                    Array.Copy(buffer, at + n, buffer, at, length - at - n);
                    length -= n;
                    break;
                default:
                    length = at;
                    break;
            }
        }

        return length;
    }
}
