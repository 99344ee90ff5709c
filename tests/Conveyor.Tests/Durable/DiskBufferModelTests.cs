using System.Buffers.Binary;
using Conveyor.Durable;
using CsCheck;

namespace Conveyor.Tests.Durable;

/// <summary>
/// Random sequences of write / read / acknowledge / crash (optionally tearing the last segment) / clean reopen, run
/// against the buffer and an in-memory model of what it must hold. CsCheck generates and shrinks the sequences.
/// Iterations: <c>CONVEYOR_MODEL_ITERATIONS</c> (default 60).
/// </summary>
public sealed class DiskBufferModelTests : DiskBufferFixture
{
    private static readonly long Iterations = long.TryParse(Environment.GetEnvironmentVariable("CONVEYOR_MODEL_ITERATIONS"), out var n) ? n : 60;

    private enum State
    {
        /// <summary>Must be read (again) before anything written after it.</summary>
        Unread,

        /// <summary>Read in this life and not acknowledged.</summary>
        InFlight,

        /// <summary>Acknowledged in this life.</summary>
        Acknowledged,

        /// <summary>Acknowledged in an earlier life that ended in a crash: may be replayed, need not be.</summary>
        MayReplay,

        /// <summary>Cut off by a torn tail: never to be seen again.</summary>
        Lost,
    }

    private sealed class Model
    {
        public List<State> States { get; } = [];

        public Dictionary<long, DiskRecord> InFlight { get; } = [];
    }

    [Fact]
    public async Task RandomOperations_AgreeWithTheModel()
    {
        var operations = Gen.Select(Gen.Int[0, 99], Gen.Int[0, 1_000_000]).Array[1, 60];
        var run = 0;
        await operations.SampleAsync(
            async ops =>
            {
                var directory = Path.Combine(Root, (run++).ToString(System.Globalization.CultureInfo.InvariantCulture));
                await RunAsync(directory, ops);
                Directory.Delete(directory, recursive: true);
            },
            iter: Iterations,
            threads: 1);
    }

    private static async Task RunAsync(string directory, (int Kind, int Arg)[] ops)
    {
        var options = new DiskBufferOptions { Directory = directory, SegmentBytes = 64 << 10, MaxDiskBytes = 64L << 20 };
        var model = new Model();
        var buffer = DiskBuffer.Open(options);
        try
        {
            foreach (var (kind, arg) in ops)
            {
                switch (kind)
                {
                    case < 40:
                        await WriteAsync(buffer, model, arg);
                        break;
                    case < 65:
                        Read(buffer, model, 1 + (arg % 7));
                        break;
                    case < 88:
                        Acknowledge(buffer, model, arg);
                        break;
                    case < 95:
                        buffer = Crash(buffer, model, options, tear: arg % 2 == 0, arg);
                        break;
                    default:
                        buffer = await ReopenAsync(buffer, model, options);
                        break;
                }

                var s = buffer.GetStatistics();
                Assert.Equal(s.Written, s.Read + s.Depth + s.DroppedOldest);
            }

            // Everything that must come back does, and once all is acknowledged the buffer is left empty.
            Read(buffer, model, int.MaxValue);
            Assert.DoesNotContain(State.Unread, model.States);
            foreach (var key in model.InFlight.Keys.ToList())
            {
                Acknowledge(buffer, model, (int)key);
            }

            buffer = await ReopenAsync(buffer, model, options);
            Assert.Equal(0, buffer.Recovery.Replayed);
            Assert.Empty(Directory.GetFiles(directory, "*.seg"));
        }
        finally
        {
            await buffer.DisposeAsync();
        }
    }

    private static async Task WriteAsync(DiskBuffer buffer, Model model, int arg)
    {
        var count = 1 + (arg % 3);
        var records = new List<ReadOnlyMemory<byte>>();
        for (var i = 0; i < count; i++)
        {
            records.Add(Record(model.States.Count + i, 8 + (arg / 7 % 3000)));
        }

        Assert.True(await buffer.WriteAllAsync(records));
        for (var i = 0; i < count; i++)
        {
            model.States.Add(State.Unread);
        }
    }

    private static void Read(DiskBuffer buffer, Model model, int max)
    {
        var n = 0;
        for (; n < max && buffer.TryRead(out var record); n++)
        {
            var id = (int)IdOf(record.Payload);
            var state = model.States[id];
            Assert.True(state is State.Unread or State.MayReplay, $"record {id} was read while {state}");

            // Order: nothing that must still be read was written before it.
            var skipped = model.States.FindIndex(0, id, s => s == State.Unread);
            Assert.True(skipped < 0, $"record {id} was read before record {skipped}");
            model.States[id] = State.InFlight;
            model.InFlight[id] = record;
        }

        // Every completed write is durable, so when nothing more can be read, nothing that must be read is missing.
        if (n < max)
        {
            Assert.DoesNotContain(State.Unread, model.States);
        }
    }

    private static void Acknowledge(DiskBuffer buffer, Model model, int arg)
    {
        if (model.InFlight.Count == 0)
        {
            return;
        }

        var id = model.InFlight.Keys.ElementAt(arg % model.InFlight.Count);
        var record = model.InFlight[id];
        model.InFlight.Remove(id);
        if (arg % 2 == 0)
        {
            record.Acknowledgement.Complete(DeliveryOutcome.Delivered);
        }
        else
        {
            Assert.True(buffer.Acknowledge(record.Sequence));
        }

        Assert.False(buffer.Acknowledge(record.Sequence));
        model.States[(int)id] = State.Acknowledged;
    }

    private static DiskBuffer Crash(DiskBuffer buffer, Model model, DiskBufferOptions options, bool tear, int arg)
    {
        buffer.Abandon();
        var torn = false;
        if (tear)
        {
            torn = Tear(model, options.Directory, arg);
        }

        Forget(model, crashed: true);
        var reopened = DiskBuffer.Open(options);
        Assert.Equal(torn ? 1 : 0, reopened.Recovery.Corrupt.Count);
        if (torn)
        {
            var region = reopened.Recovery.Corrupt[0];
            Assert.Contains("torn", region.Reason, StringComparison.Ordinal);
            Assert.True(File.Exists(region.SavedAs));
        }

        CheckReplayed(reopened, model);
        return reopened;
    }

    /// <summary>Cuts the newest segment at a random byte; records that no longer fit whole are lost. True when a record was cut through.</summary>
    private static bool Tear(Model model, string directory, int arg)
    {
        var last = Directory.GetFiles(directory, "*.seg").Order().LastOrDefault();
        if (last is null)
        {
            return false;
        }

        using var scan = SegmentScanner.ReadAndScan(last);
        if (scan.Length == 0)
        {
            return false;
        }

        var cut = arg % scan.Length;
        var torn = false;
        foreach (var r in scan.Records)
        {
            if (r.Offset + r.Size > cut)
            {
                var id = (int)BinaryPrimitives.ReadInt64LittleEndian(scan.Bytes.Slice(r.Offset + RecordFormat.HeaderSize, 8));
                model.States[id] = State.Lost;
                model.InFlight.Remove(id);
                torn |= r.Offset < cut;
            }
        }

        using (var file = new FileStream(last, FileMode.Open, FileAccess.Write))
        {
            file.SetLength(cut);
        }

        return torn;
    }

    private static async Task<DiskBuffer> ReopenAsync(DiskBuffer buffer, Model model, DiskBufferOptions options)
    {
        await buffer.DisposeAsync();
        Forget(model, crashed: false);
        var reopened = DiskBuffer.Open(options);
        Assert.Empty(reopened.Recovery.Corrupt);
        CheckReplayed(reopened, model);
        return reopened;
    }

    /// <summary>A new life: what was in flight must come back; what was acknowledged may come back only after a crash.</summary>
    private static void Forget(Model model, bool crashed)
    {
        model.InFlight.Clear();
        for (var i = 0; i < model.States.Count; i++)
        {
            model.States[i] = model.States[i] switch
            {
                State.InFlight => State.Unread,
                State.Acknowledged when crashed => State.MayReplay,
                State.Acknowledged => State.Lost,
                var same => same,
            };
        }
    }

    private static void CheckReplayed(DiskBuffer buffer, Model model)
    {
        var must = model.States.Count(s => s == State.Unread);
        var may = model.States.Count(s => s == State.MayReplay);
        Assert.InRange(buffer.Recovery.Replayed, must, must + may);
    }
}
