namespace Conveyor.Tests.Acknowledgements;

public sealed class AcknowledgementTests
{
    [Fact]
    public async Task Complete_LastReference_FiresOnceWithWorstOutcome()
    {
        var fired = new List<DeliveryOutcome>();
        var ack = Acknowledgement.Create(3, fired.Add);

        ack.Complete(DeliveryOutcome.Delivered);
        ack.Complete(DeliveryOutcome.Dropped);
        Assert.False(ack.IsCompleted);
        Assert.Empty(fired);
        ack.Complete(DeliveryOutcome.DeadLettered);

        Assert.True(ack.IsCompleted);
        Assert.Equal([DeliveryOutcome.Dropped], fired);
        Assert.Equal(DeliveryOutcome.Dropped, await ack.Completion);
    }

    [Fact]
    public async Task Completion_AskedAfterFiring_IsAlreadyComplete()
    {
        var ack = Acknowledgement.Create(1);
        ack.Complete(DeliveryOutcome.Delivered);

        Assert.True(ack.Completion.IsCompleted);
        Assert.Equal(DeliveryOutcome.Delivered, await ack.Completion);
    }

    [Fact]
    public void AddReferences_WhileHeld_DelaysFiring()
    {
        var fired = 0;
        var ack = Acknowledgement.Create(1, _ => fired++);

        ack.AddReferences(2);
        ack.Complete(DeliveryOutcome.Delivered, 2);
        Assert.Equal(0, fired);
        ack.Complete(DeliveryOutcome.Delivered);

        Assert.Equal(1, fired);
    }

    [Fact]
    public void Complete_MoreThanTaken_Throws()
    {
        var ack = Acknowledgement.Create(1);
        ack.Complete(DeliveryOutcome.Delivered);

        Assert.Throws<InvalidOperationException>(() => ack.Complete(DeliveryOutcome.Delivered));
        Assert.Throws<InvalidOperationException>(() => ack.AddReferences(1));
    }

    [Fact]
    public async Task Complete_FromManyThreads_FiresExactlyOnceAfterTheLast()
    {
        const int threads = 8;
        const int perThread = 100_000;
        for (var round = 0; round < 20; round++)
        {
            var fired = 0;
            var completedBeforeFiring = -1L;
            long done = 0;
            var ack = Acknowledgement.Create(threads * perThread, _ =>
            {
                completedBeforeFiring = Interlocked.Read(ref done);
                Interlocked.Increment(ref fired);
            });
            var workers = Enumerable.Range(0, threads).Select(t => Task.Run(() =>
            {
                for (var i = 0; i < perThread; i++)
                {
                    // Half the workers fan one reference out into two before completing both, as a fan-out does.
                    if (t % 2 == 0 && i % 3 == 0)
                    {
                        ack.AddReferences(1);
                        Interlocked.Increment(ref done);
                        ack.Complete(DeliveryOutcome.Delivered);
                    }

                    Interlocked.Increment(ref done);
                    ack.Complete(i == 7 && t == 3 ? DeliveryOutcome.Failed : DeliveryOutcome.Delivered);
                }
            })).ToArray();
            await Task.WhenAll(workers);

            Assert.Equal(1, fired);
            Assert.Equal(Interlocked.Read(ref done), completedBeforeFiring);
            Assert.Equal(DeliveryOutcome.Failed, await ack.Completion);
        }
    }
}
