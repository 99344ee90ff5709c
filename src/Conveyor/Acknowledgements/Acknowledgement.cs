using System.Diagnostics;

namespace Conveyor;

/// <summary>
/// A completion shared by every item derived from one unit of input (an HTTP request, a chunk read from a socket or
/// a file, a message from a broker): it fires once, when every reference taken on it has been completed, with the
/// worst outcome any of them reported.
/// </summary>
/// <remarks>
/// <para>The model is Vector's batch notifier: a source creates one acknowledgement per unit with one reference per
/// item; whoever turns one item into several (a fan-out to N sinks) adds references before handing them on; whoever
/// finishes with an item (a sink that committed it, a queue that dropped it, a stage that dead-lettered it)
/// completes its reference. A source that must not forget input until it is safe (a file checkpoint, a broker ack, a
/// durable buffer's segment) acts in <see cref="Acknowledgement.Completion"/> or in the callback.</para>
/// <para>What holds: the reference count never goes below zero; the callback and <see cref="Completion"/> fire
/// exactly once, after the last reference is completed, on the thread that completed it (the callback must be
/// short and must not throw); adding references to an acknowledgement that already fired is a bug and throws.</para>
/// </remarks>
public sealed class Acknowledgement
{
    private readonly Action<DeliveryOutcome>? _onCompleted;
    private TaskCompletionSource<DeliveryOutcome>? _completion;
    private int _references;
    private int _worst;

    private Acknowledgement(int references, Action<DeliveryOutcome>? onCompleted)
    {
        _references = references;
        _onCompleted = onCompleted;
    }

    /// <summary>
    /// Creates an acknowledgement holding <paramref name="references"/> references (one per item handed on);
    /// <paramref name="onCompleted"/> runs once, when the last is completed.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="references"/> is not positive.</exception>
    public static Acknowledgement Create(int references, Action<DeliveryOutcome>? onCompleted = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(references);
        return new Acknowledgement(references, onCompleted);
    }

    /// <summary>References not yet completed; 0 once the acknowledgement fired.</summary>
    public int Pending => Volatile.Read(ref _references);

    /// <summary>True once every reference was completed.</summary>
    public bool IsCompleted => Volatile.Read(ref _references) == 0;

    /// <summary>The worst outcome reported so far (the final one once <see cref="IsCompleted"/>).</summary>
    public DeliveryOutcome Outcome => (DeliveryOutcome)Volatile.Read(ref _worst);

    /// <summary>Completes with the worst outcome of every reference, once the last one is completed.</summary>
    public Task<DeliveryOutcome> Completion
    {
        get
        {
            if (Volatile.Read(ref _completion) is { } existing)
            {
                return existing.Task;
            }

            var created = new TaskCompletionSource<DeliveryOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
            var winner = Interlocked.CompareExchange(ref _completion, created, null) ?? created;

            // The last Complete may have run before the source existed: it then saw no source to set.
            if (IsCompleted)
            {
                winner.TrySetResult(Outcome);
            }

            return winner.Task;
        }
    }

    /// <summary>
    /// Adds <paramref name="count"/> references, for an item being handed on to several consumers. The caller must
    /// hold a reference not yet completed, so the acknowledgement cannot fire in between.
    /// </summary>
    /// <exception cref="InvalidOperationException">The acknowledgement already fired.</exception>
    public void AddReferences(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count == 0)
        {
            return;
        }

        var before = Interlocked.Add(ref _references, count) - count;
        if (before <= 0)
        {
            throw new InvalidOperationException("References were added to an acknowledgement that already completed.");
        }
    }

    /// <summary>Completes <paramref name="count"/> references with <paramref name="outcome"/>.</summary>
    /// <exception cref="InvalidOperationException">More references were completed than were taken.</exception>
    public void Complete(DeliveryOutcome outcome, int count = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count == 0)
        {
            return;
        }

        if (outcome != DeliveryOutcome.Delivered)
        {
            // Raise _worst to outcome if it is worse; outcomes are ordered from best to worst.
            int seen;
            do
            {
                seen = Volatile.Read(ref _worst);
            }
            while ((int)outcome > seen && Interlocked.CompareExchange(ref _worst, (int)outcome, seen) != seen);
        }

        var after = Interlocked.Add(ref _references, -count);
        if (after > 0)
        {
            return;
        }

        if (after < 0)
        {
            throw new InvalidOperationException("An acknowledgement was completed more times than it had references.");
        }

        // Now true: no reference is left, so no other thread can touch _worst or add references legally.
        var final = Outcome;
        Debug.Assert(IsCompleted, "the last reference was completed");
        Volatile.Read(ref _completion)?.TrySetResult(final);
        _onCompleted?.Invoke(final);
    }
}

/// <summary>What became of an item, ordered from best to worst: an acknowledgement reports the worst of its items.</summary>
public enum DeliveryOutcome
{
    /// <summary>Committed by every sink it was handed to.</summary>
    Delivered = 0,

    /// <summary>Could not be parsed or stored, and was written as a dead letter with its reason.</summary>
    DeadLettered = 1,

    /// <summary>Dropped by a full policy and counted.</summary>
    Dropped = 2,

    /// <summary>A sink failed for good and the item was neither stored nor dead-lettered (counted as failed).</summary>
    Failed = 3,
}
