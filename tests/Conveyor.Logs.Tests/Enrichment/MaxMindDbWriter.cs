using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace Conveyor.Logs.Tests.Enrichment;

/// <summary>
/// A minimal MaxMind DB writer (format spec 2.0) so tests own their .mmdb: an IPv6 binary search tree with 24-bit
/// records, a data section of maps, strings and unsigned integers, and the metadata section after
/// <c>\xAB\xCD\xEFMaxMind.com</c>. IPv4 networks live under <c>::/96</c>, where readers look them up.
/// </summary>
internal sealed class MaxMindDbWriter : IDisposable
{
    private readonly List<int[]> _nodes = [[-1, -1]];
    private readonly MemoryStream _data = new();

    /// <summary>Maps <paramref name="network"/>/<paramref name="prefixLength"/> to <paramref name="record"/> (a string → object map).</summary>
    public void Insert(IPAddress network, int prefixLength, Dictionary<string, object> record)
    {
        var bytes = network.GetAddressBytes();
        if (bytes.Length == 4)
        {
            bytes = [.. new byte[12], .. bytes];
            prefixLength += 96;
        }

        var dataOffset = (int)_data.Length;
        WriteValue(_data, record);
        var node = 0;
        for (var bit = 0; bit < prefixLength; bit++)
        {
            var side = (bytes[bit / 8] >> (7 - (bit % 8))) & 1;
            if (bit == prefixLength - 1)
            {
                // Data records are encoded as -(offset + 2) until the node count is known.
                _nodes[node][side] = -(dataOffset + 2);
                return;
            }

            if (_nodes[node][side] < 0)
            {
                _nodes.Add([-1, -1]);
                _nodes[node][side] = _nodes.Count - 1;
            }

            node = _nodes[node][side];
        }
    }

    public void Dispose() => _data.Dispose();

    public byte[] Build()
    {
        var nodeCount = _nodes.Count;
        var output = new MemoryStream();
        foreach (var node in _nodes)
        {
            foreach (var record in node)
            {
                var value = record switch
                {
                    -1 => nodeCount,
                    < -1 => nodeCount + 16 + (-record - 2),
                    _ => record,
                };
                output.WriteByte((byte)(value >> 16));
                output.WriteByte((byte)(value >> 8));
                output.WriteByte((byte)value);
            }
        }

        output.Write(new byte[16]);
        _data.WriteTo(output);
        output.Write([0xAB, 0xCD, 0xEF]);
        output.Write("MaxMind.com"u8);
        WriteValue(output, new Dictionary<string, object>
        {
            ["node_count"] = (uint)nodeCount,
            ["record_size"] = (ushort)24,
            ["ip_version"] = (ushort)6,
            ["database_type"] = "Conveyor-Test-City",
            ["languages"] = new object[] { "en" },
            ["binary_format_major_version"] = (ushort)2,
            ["binary_format_minor_version"] = (ushort)0,
            ["build_epoch"] = (ulong)1_700_000_000,
            ["description"] = new Dictionary<string, object> { ["en"] = "test database" },
        });
        return output.ToArray();
    }

    private static void WriteValue(Stream s, object value)
    {
        switch (value)
        {
            case string str:
                var utf8 = Encoding.UTF8.GetBytes(str);
                WriteControl(s, 2, utf8.Length);
                s.Write(utf8);
                break;
            case ushort u16:
                WriteUnsigned(s, 5, u16);
                break;
            case uint u32:
                WriteUnsigned(s, 6, u32);
                break;
            case ulong u64:
                WriteUnsigned(s, 9, u64);
                break;
            case Dictionary<string, object> map:
                WriteControl(s, 7, map.Count);
                foreach (var (k, v) in map)
                {
                    WriteValue(s, k);
                    WriteValue(s, v);
                }

                break;
            case object[] array:
                WriteControl(s, 11, array.Length);
                foreach (var item in array)
                {
                    WriteValue(s, item);
                }

                break;
            default:
                throw new ArgumentException("unsupported type " + value.GetType().Name, nameof(value));
        }
    }

    private static void WriteUnsigned(Stream s, int type, ulong value)
    {
        Span<byte> big = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(big, value);
        var skip = 0;
        while (skip < 8 && big[skip] == 0)
        {
            skip++;
        }

        WriteControl(s, type, 8 - skip);
        s.Write(big[skip..]);
    }

    /// <summary>Control byte: type in the top 3 bits (0 = extended, then type - 7 in the next byte), size below.</summary>
    private static void WriteControl(Stream s, int type, int size)
    {
        if (size >= 29)
        {
            throw new ArgumentOutOfRangeException(nameof(size), "the test writer keeps sizes below 29");
        }

        if (type <= 7)
        {
            s.WriteByte((byte)((type << 5) | size));
        }
        else
        {
            s.WriteByte((byte)size);
            s.WriteByte((byte)(type - 7));
        }
    }
}
