using System.Diagnostics;

namespace Conveyor.Durable;

/// <summary>
/// The sequences read and not yet acknowledged, in read order (which is sequence order). Acknowledgements may come in
/// any order: one is found by binary search and marked, and marked entries leave from the front, so the oldest
/// unacknowledged sequence is always the front. Not thread-safe; the buffer uses it under its lock.
/// </summary>
internal sealed class InFlightWindow
{
    private long[] _sequences = new long[256];
    private bool[] _acked = new bool[256];
    private int _head;
    private int _count;

    /// <summary>Entries not yet acknowledged.</summary>
    public int Pending { get; private set; }

    /// <summary>The oldest sequence not yet acknowledged, or null when none is.</summary>
    public long? Oldest => _count == 0 ? null : _sequences[_head];

    public void Add(long sequence)
    {
        Debug.Assert(_count == 0 || sequence > _sequences[Index(_count - 1)], "sequences are added in increasing order");
        if (_count == _sequences.Length)
        {
            Grow();
        }

        var at = Index(_count);
        _sequences[at] = sequence;
        _acked[at] = false;
        _count++;
        Pending++;
    }

    /// <summary>Marks <paramref name="sequence"/> acknowledged; false when it is not in flight (never read, or already acknowledged).</summary>
    public bool TryAcknowledge(long sequence)
    {
        int lo = 0, hi = _count - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var value = _sequences[Index(mid)];
            if (value == sequence)
            {
                var at = Index(mid);
                if (_acked[at])
                {
                    return false;
                }

                _acked[at] = true;
                Pending--;

                // Now true: every entry before the first unmarked one is acknowledged, so they can leave.
                while (_count > 0 && _acked[_head])
                {
                    _head = (_head + 1) & (_sequences.Length - 1);
                    _count--;
                }

                return true;
            }

            if (value < sequence)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return false;
    }

    /// <summary>The sequences not yet acknowledged, oldest first.</summary>
    public List<long> Unacknowledged()
    {
        var list = new List<long>(Pending);
        for (var i = 0; i < _count; i++)
        {
            var at = Index(i);
            if (!_acked[at])
            {
                list.Add(_sequences[at]);
            }
        }

        return list;
    }

    private int Index(int logical) => (_head + logical) & (_sequences.Length - 1);

    private void Grow()
    {
        var sequences = new long[_sequences.Length * 2];
        var acked = new bool[sequences.Length];
        for (var i = 0; i < _count; i++)
        {
            sequences[i] = _sequences[Index(i)];
            acked[i] = _acked[Index(i)];
        }

        _sequences = sequences;
        _acked = acked;
        _head = 0;
    }
}
