namespace Conveyor.Logs.Sources.Http;

/// <summary>
/// The bytes of request bodies an HTTP source holds at once, read but not yet in the main buffer (a part of the memory
/// budget): a request reserves before it reads and as it grows, and releases when its lines are admitted or refused.
/// Beyond the budget a request is answered 429 with <c>Retry-After</c> instead of being read, so concurrent big posts
/// cannot grow memory past it. It counts body bytes (decompressed), so a reservation of the Content-Length covers its
/// whole request; the lines a body becomes hold up to <see cref="Model.RawLine.Overhead"/> bytes more each.
/// </summary>
/// <remarks>Thread-safe; lock-free.</remarks>
public sealed class BodyBudget(long capacity)
{
    private long _used;

    /// <summary>The most bytes held at once.</summary>
    public long Capacity { get; } = capacity;

    /// <summary>Bytes held now.</summary>
    public long Used => Interlocked.Read(ref _used);

    /// <summary>Reserves <paramref name="bytes"/> if they fit; false (nothing reserved) when they do not.</summary>
    public bool TryReserve(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        while (true)
        {
            var used = Interlocked.Read(ref _used);
            if (used + bytes > Capacity)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _used, used + bytes, used) == used)
            {
                return true;
            }
        }
    }

    /// <summary>Gives back <paramref name="bytes"/> reserved earlier.</summary>
    public void Release(long bytes) => Interlocked.Add(ref _used, -bytes);
}
