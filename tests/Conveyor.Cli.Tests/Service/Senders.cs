using System.IO.Compression;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Conveyor.Logs.Query;

namespace Conveyor.Cli.Tests.Service;

/// <summary>Clients for the service's sources, and counting what the store holds.</summary>
internal static class Senders
{
    public static string AccessLine(string tag, int i) =>
        $"10.0.{i % 250}.{(i % 200) + 1} - - [27/Nov/2026:10:00:00 +0000] \"GET /{tag}/{i} HTTP/1.1\" 200 {100 + i} \"-\" \"curl/8.5.0\"";

    public static HttpContent Body(IEnumerable<string> lines, bool gzip = false, string type = "text/plain")
    {
        var bytes = Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n");
        if (gzip)
        {
            using var ms = new MemoryStream();
            using (var z = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
            {
                z.Write(bytes);
            }

            bytes = ms.ToArray();
        }

        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(type);
        if (gzip)
        {
            content.Headers.ContentEncoding.Add("gzip");
        }

        return content;
    }

    /// <summary>
    /// Sends <paramref name="lines"/> over one connection and returns once the server has read them all. With
    /// <paramref name="perSecond"/>, it waits a fixed time after each chunk (pacing, no catching up after a stall).
    /// </summary>
    public static async Task SendTcpAsync(int port, IEnumerable<string> lines, int perSecond = 0)
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port);
        var stream = client.GetStream();

        // In chunks of ~256 KiB, so hundreds of thousands of lines never sit in memory as one string.
        var chunk = new StringBuilder(300 * 1024);
        var inChunk = 0;
        foreach (var line in lines)
        {
            chunk.Append(line).Append('\n');
            inChunk++;
            if (chunk.Length > 256 * 1024)
            {
                await stream.WriteAsync(Encoding.UTF8.GetBytes(chunk.ToString()));
                chunk.Clear();
                if (perSecond > 0)
                {
                    await Task.Delay(TimeSpan.FromSeconds(inChunk / (double)perSecond));   // pacing the sender, not waiting for a result
                }

                inChunk = 0;
            }
        }

        await stream.WriteAsync(Encoding.UTF8.GetBytes(chunk.ToString()));
        client.Client.Shutdown(SocketShutdown.Send);

        // The server closes its side once it has read everything we sent: then every line is in its buffer.
        var buffer = new byte[16];
        while (await stream.ReadAsync(buffer) > 0)
        {
        }
    }

    public static async Task SendUdpAsync(int port, IEnumerable<string> lines)
    {
        using var client = new UdpClient();
        client.Connect("127.0.0.1", port);
        foreach (var line in lines)
        {
            await client.SendAsync(Encoding.UTF8.GetBytes(line));
        }
    }

    public static async Task<(long Events, long DeadLetters)> CountAsync(string dbPath)
    {
        await using var store = LogStore.Open("sqlite:" + dbPath);
        var events = await store.CountAsync(new LogQuery("*"));
        var dead = await store.CountAsync(new LogQuery("*", DeadLetters: true));
        return (events, dead);
    }
}
