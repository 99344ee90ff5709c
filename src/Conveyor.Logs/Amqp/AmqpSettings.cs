using System.Globalization;

namespace Conveyor.Logs.Amqp;

/// <summary>Which queue type Conveyor declares for its records.</summary>
public enum AmqpQueueType
{
    /// <summary>The default: a replicated, durable quorum queue; competing workers share it, and a message a worker
    /// cannot decode (or that was redelivered more than the delivery limit) goes to the dead-letter exchange.</summary>
    Quorum,

    /// <summary>An append-only stream read over AMQP 0-9-1: every consumer reads every message from its offset, so
    /// it suits one worker per stream or replay, not competing workers; streams have no dead-lettering.</summary>
    Stream,
}

/// <summary>What an edge publishes for each record.</summary>
public enum AmqpRecordFormat
{
    /// <summary>The default: parsed and enriched events, decoded by the worker without parsing again.</summary>
    Events,

    /// <summary>Each event's body as the line, for the worker to parse; pair it with sources whose format is
    /// <c>plain</c> (no parsing at the edge: the line is the body), since a parsed syslog event's body is only its MSG part.</summary>
    Raw,
}

/// <summary>
/// An <c>amqp://USER:PASS@HOST:PORT/VHOST?queue=NAME&amp;…</c> address (the standard AMQP URI; the default vhost is
/// <c>/</c>) and the settings Conveyor reads from its query. The same URI serves the sink (<c>--to</c>, an edge) and
/// the source (<c>--from</c>, a worker); both declare the queue with the same arguments, in whichever order they start.
/// </summary>
public sealed class AmqpSettings
{
    /// <summary>The query keys, as errors list them.</summary>
    public static readonly IReadOnlyList<string> Keys = ["queue", "type", "format", "batch", "window", "prefetch", "deliveryLimit", "offset"];

    /// <summary>The broker address without the query, password included.</summary>
    public Uri Broker { get; init; } = new("amqp://guest:guest@127.0.0.1:5672/");

    /// <summary><c>queue</c>: the queue records travel through. Default <c>conveyor</c>; its dead letters go to the exchange and queue <c>NAME.dead</c>.</summary>
    public string Queue { get; init; } = "conveyor";

    /// <summary><c>type</c>: <c>quorum</c> (default) or <c>stream</c>.</summary>
    public AmqpQueueType QueueType { get; init; } = AmqpQueueType.Quorum;

    /// <summary><c>format</c> (sink): <c>events</c> (default) or <c>raw</c>.</summary>
    public AmqpRecordFormat Format { get; init; } = AmqpRecordFormat.Events;

    /// <summary><c>batch</c> (sink): the most records in one message, 1-100000. Default 500 (a quorum queue with
    /// confirms takes ~30k messages/s here, so lines must travel hundreds to a message).</summary>
    public int BatchSize { get; init; } = 500;

    /// <summary><c>window</c> (sink): the most messages published and not yet confirmed, 1-10000. Default 64.</summary>
    public int Window { get; init; } = 64;

    /// <summary><c>prefetch</c> (source): the most messages delivered and not yet acknowledged, 1-65535: the worker's
    /// back-pressure on the broker. Default 20 (10,000 records at the default batch).</summary>
    public ushort Prefetch { get; init; } = 20;

    /// <summary><c>deliveryLimit</c> (quorum): deliveries of one message before the broker dead-letters it
    /// (a message that keeps failing is set aside instead of looping), 1-1000. Default 20.</summary>
    public int DeliveryLimit { get; init; } = 20;

    /// <summary><c>offset</c> (stream source): where a new consumer starts, <c>first</c> (default), <c>last</c> or <c>next</c>.</summary>
    public string StreamOffset { get; init; } = "first";

    /// <summary>The exchange, and the queue bound to it, that keep dead-lettered messages: <c>QUEUE.dead</c>.</summary>
    public string DeadLetterName => Queue + ".dead";

    /// <summary>The broker address with the password masked, for logs and messages.</summary>
    public string Display
    {
        get
        {
            var b = new UriBuilder(Broker) { Password = Broker.UserInfo.Contains(':', StringComparison.Ordinal) ? "***" : string.Empty };
            return b.Uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.UserInfo | UriComponents.Path, UriFormat.UriEscaped) + "?queue=" + Queue;
        }
    }

    /// <summary>True when <paramref name="uri"/> has the <c>amqp://</c> or <c>amqps://</c> scheme.</summary>
    public static bool IsAmqp(string? uri) =>
        uri is not null && (uri.StartsWith("amqp://", StringComparison.OrdinalIgnoreCase) || uri.StartsWith("amqps://", StringComparison.OrdinalIgnoreCase));

    /// <summary>Reads an <c>amqp://</c> URI and its query.</summary>
    /// <exception cref="FormatException">The URI or a query value is invalid; the message names the key and the reason.</exception>
    public static AmqpSettings Parse(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (!IsAmqp(uri) || !Uri.TryCreate(uri, UriKind.Absolute, out var parsed) || string.IsNullOrEmpty(parsed.Host))
        {
            throw new FormatException($"'{Mask(uri)}': expected amqp://USER:PASS@HOST:PORT[/VHOST][?queue=NAME]");
        }

        string queue = "conveyor", offset = "first";
        var type = AmqpQueueType.Quorum;
        var format = AmqpRecordFormat.Events;
        int batch = 500, window = 64, prefetch = 20, limit = 20;
        foreach (var pair in parsed.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
            var value = eq < 0 ? string.Empty : Uri.UnescapeDataString(pair[(eq + 1)..]);
            switch (key)
            {
                case "queue":
                    queue = value.Length is > 0 and <= 200 && !value.EndsWith(".dead", StringComparison.Ordinal) && !value.StartsWith("amq.", StringComparison.Ordinal)
                        ? value
                        : throw new FormatException($"queue: must be 1-200 characters, not starting with 'amq.' nor ending with '.dead' (was '{value}')");
                    break;
                case "type":
                    type = value switch
                    {
                        "quorum" => AmqpQueueType.Quorum,
                        "stream" => AmqpQueueType.Stream,
                        _ => throw new FormatException($"type: must be quorum or stream (was '{value}')"),
                    };
                    break;
                case "format":
                    format = value switch
                    {
                        "events" => AmqpRecordFormat.Events,
                        "raw" => AmqpRecordFormat.Raw,
                        _ => throw new FormatException($"format: must be events or raw (was '{value}')"),
                    };
                    break;
                case "batch":
                    batch = Int(key, value, 1, 100_000);
                    break;
                case "window":
                    window = Int(key, value, 1, 10_000);
                    break;
                case "prefetch":
                    prefetch = Int(key, value, 1, ushort.MaxValue);
                    break;
                case "deliveryLimit":
                    limit = Int(key, value, 1, 1000);
                    break;
                case "offset":
                    offset = value is "first" or "last" or "next" ? value : throw new FormatException($"offset: must be first, last or next (was '{value}')");
                    break;
                default:
                    throw new FormatException($"unknown query key '{key}' (expected {string.Join(", ", Keys)})");
            }
        }

        var broker = new UriBuilder(parsed) { Query = string.Empty }.Uri;
        return new AmqpSettings
        {
            Broker = broker,
            Queue = queue,
            QueueType = type,
            Format = format,
            BatchSize = batch,
            Window = window,
            Prefetch = (ushort)prefetch,
            DeliveryLimit = limit,
            StreamOffset = offset,
        };
    }

    /// <summary>What is wrong with <paramref name="uri"/>, or null when it is a valid <c>amqp://</c> address.</summary>
    public static string? Check(string uri)
    {
        try
        {
            Parse(uri);
            return null;
        }
        catch (FormatException ex)
        {
            return ex.Message;
        }
    }

    private static int Int(string key, string value, int min, int max) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new FormatException($"{key}: must be {min}-{max} (was '{value}')");

    private static string Mask(string uri)
    {
        var at = uri.IndexOf('@', StringComparison.Ordinal);
        var scheme = uri.IndexOf("://", StringComparison.Ordinal);
        var colon = scheme < 0 || at < 0 ? -1 : uri.IndexOf(':', scheme + 3);
        return colon > 0 && colon < at ? uri[..(colon + 1)] + "***" + uri[at..] : uri;
    }
}
