using System.Globalization;
using Conveyor.Logs.Amqp;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Sinks;
using Conveyor.Logs.Sources;

namespace Conveyor.Logs.Configuration;

/// <summary>
/// Checks a <see cref="PipelineOptions"/> and reports every problem with its config key, e.g.
/// <c>sources:0:port: must be 1-65535 (was 70000)</c>, so <c>conveyor validate</c> and <c>conveyor run</c> say the same.
/// </summary>
public static class PipelineOptionsValidator
{
    /// <summary>Every problem, in key order; empty when the options are valid.</summary>
    public static IReadOnlyList<string> Validate(PipelineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (options.Sources.Count == 0)
        {
            errors.Add("sources: at least one source is required");
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        var endpoints = new HashSet<string>(StringComparer.Ordinal);
        var stdin = 0;
        for (var i = 0; i < options.Sources.Count; i++)
        {
            ValidateSource(options.Sources[i], $"sources:{i}", errors, names, endpoints, ref stdin);
        }

        ValidateBuffer(options.Buffer, "buffer", errors);
        ValidateDisk(options.Buffer, "buffer", errors);
        if (options.Parse.Workers is < 1 or > 64)
        {
            errors.Add($"parse:workers: must be 1-64 (was {options.Parse.Workers})");
        }

        if (options.Parse.MinWorkers < 1 || options.Parse.MinWorkers > options.Parse.Workers)
        {
            errors.Add($"parse:minWorkers: must be 1-{options.Parse.Workers} (parse:workers) (was {options.Parse.MinWorkers})");
        }

        if (options.Parse.BatchSize is < 1 or > 100_000)
        {
            errors.Add($"parse:batchSize: must be 1-100000 (was {options.Parse.BatchSize})");
        }

        if (!TryFindTimeZone(options.Parse.TimeZone, out _))
        {
            errors.Add($"parse:timeZone: unknown time zone '{options.Parse.TimeZone}'");
        }

        if (options.Parse.Enrichers.GeoIpDatabase is { } geo && !File.Exists(geo))
        {
            errors.Add($"parse:enrichers:geoIpDatabase: file not found ({geo})");
        }

        if (options.Sinks.Count == 0)
        {
            errors.Add("sinks: at least one sink is required");
        }

        for (var i = 0; i < options.Sinks.Count; i++)
        {
            var sink = options.Sinks[i];
            var key = $"sinks:{i}";
            if (SinkRegistry.Check(sink.Uri) is { } problem)
            {
                errors.Add($"{key}:uri: {problem}");
            }

            if (AmqpSettings.IsAmqp(sink.Uri) && AmqpSettings.Check(sink.Uri) is null
                && AmqpSettings.Parse(sink.Uri).Format == AmqpRecordFormat.Raw
                && options.Sources.Select((s, n) => (s, n)).FirstOrDefault(p => p.s.EffectiveFormat != "plain") is { s: { } parsing } found)
            {
                // A parsed event's body is not always its line (syslog keeps only MSG): forwarding bodies as lines
                // would lose the rest, so raw forwarding needs sources that do not parse (format plain: the line is the body).
                errors.Add($"{key}:uri: format=raw forwards lines unparsed, so every source's format must be plain (sources:{found.n}:format is {parsing.EffectiveFormat})");
            }

            ValidateBuffer(sink.Queue, key + ":queue", errors);
            if (sink.Queue.Type != BufferType.Memory)
            {
                errors.Add($"{key}:queue:type: only the main buffer (buffer:type) can be on disk; a sink queue is memory");
            }
            if (sink.BatchMaxItems is { } batchMaxItems && batchMaxItems is < 1 or > 100_000)
            {
                errors.Add($"{key}:batchMaxItems: must be 1-100000 (was {sink.BatchMaxItems})");
            }

            if (sink.BatchLinger < TimeSpan.Zero || sink.BatchLinger > TimeSpan.FromMinutes(1))
            {
                errors.Add($"{key}:batchLinger: must be 0-00:01:00 (was {sink.BatchLinger})");
            }

            if (sink.Retry.MaxAttempts is < 1 or > 1_000_000)
            {
                errors.Add($"{key}:retry:maxAttempts: must be 1-1000000, the first attempt included (was {sink.Retry.MaxAttempts})");
            }

            if (sink.Retry.BaseDelay < TimeSpan.Zero || sink.Retry.MaxDelay < sink.Retry.BaseDelay)
            {
                errors.Add($"{key}:retry:baseDelay: must be >= 0 and <= retry:maxDelay (were {sink.Retry.BaseDelay} and {sink.Retry.MaxDelay})");
            }

            if (sink.DuckDb.MemoryLimit < 16L << 20)
            {
                errors.Add($"{key}:duckdb:memoryLimit: must be at least 16777216 bytes (was {sink.DuckDb.MemoryLimit})");
            }

            if (sink.DuckDb.CheckpointThreshold is < 1L << 20 or > 1L << 30)
            {
                errors.Add($"{key}:duckdb:checkpointThreshold: must be 1048576-1073741824 bytes (was {sink.DuckDb.CheckpointThreshold})");
            }

            if (sink.DuckDb.Threads is < 1 or > 64)
            {
                errors.Add($"{key}:duckdb:threads: must be 1-64 (was {sink.DuckDb.Threads})");
            }

            if (sink.DuckDb.Writers is < 1 or > 8)
            {
                errors.Add($"{key}:duckdb:writers: must be 1-8 (was {sink.DuckDb.Writers})");
            }

            ValidateStore(sink, key, errors);
        }

        if (options.Shutdown.DrainTimeout <= TimeSpan.Zero || options.Shutdown.DrainTimeout > TimeSpan.FromHours(1))
        {
            errors.Add($"shutdown:drainTimeout: must be more than 0 and at most 01:00:00 (was {options.Shutdown.DrainTimeout})");
        }

        return errors;
    }

    /// <summary>Finds a time zone by id; <c>UTC</c> always works (the build is globalization-invariant).</summary>
    public static bool TryFindTimeZone(string id, out TimeZoneInfo zone)
    {
        if (string.Equals(id, "UTC", StringComparison.OrdinalIgnoreCase))
        {
            zone = TimeZoneInfo.Utc;
            return true;
        }

        return TimeZoneInfo.TryFindSystemTimeZoneById(id, out zone!);
    }

    private static void ValidateSource(SourceOptions s, string key, List<string> errors, HashSet<string> names, HashSet<string> endpoints, ref int stdin)
    {
        if (!Enum.IsDefined(s.Type))
        {
            errors.Add($"{key}:type: must be one of http|tcp|udp|syslogTcp|syslogUdp|file|stdin|amqp|otlp|otlpGrpc|elasticsearch (was {(int)s.Type})");
            return;
        }

        if (!names.Add(s.EffectiveName))
        {
            errors.Add($"{key}:name: '{s.EffectiveName}' is used by another source");
        }

        var registration = SourceRegistry.For(s.Type);
        if (registration.HostAndPort)
        {
            if (s.Port is < 1 or > 65535)
            {
                errors.Add($"{key}:port: must be 1-65535 (was {s.Port})");
            }
            else
            {
                var udp = s.Type is SourceType.Udp or SourceType.SyslogUdp;
                if (!endpoints.Add((udp ? "udp:" : "tcp:") + s.Port.ToString(CultureInfo.InvariantCulture)))
                {
                    errors.Add($"{key}:port: {s.Port} is used by another {(udp ? "UDP" : "TCP")} source");
                }
            }

            if (!System.Net.IPAddress.TryParse(s.Host, out _) && !string.Equals(s.Host, "localhost", StringComparison.OrdinalIgnoreCase))
            {
                errors.Add($"{key}:host: must be an IP address or localhost (was '{s.Host}')");
            }
        }

        if (s.Type == SourceType.File && string.IsNullOrWhiteSpace(s.Path))
        {
            errors.Add($"{key}:path: required for a file source (a glob such as /var/log/nginx/*.log)");
        }

        if (s.Type == SourceType.Amqp && (s.Uri is null ? "required for an amqp source (amqp://USER:PASS@HOST:PORT[/VHOST][?queue=NAME])" : AmqpSettings.Check(s.Uri)) is { } amqp)
        {
            errors.Add($"{key}:uri: {amqp}");
        }

        if (s.Type == SourceType.Stdin && ++stdin > 1)
        {
            errors.Add($"{key}:type: only one stdin source is possible");
        }

        if (registration.FixedFormat is { } fixedFormat)
        {
            if (s.Format is { } f && f != fixedFormat)
            {
                errors.Add($"{key}:format: {SourceOptions.TypeName(s.Type)} sources read {fixedFormat} only (was '{f}')");
            }
        }
        else
        {
            try
            {
                LogParsers.Create(s.EffectiveFormat);
            }
            catch (ArgumentException ex)
            {
                errors.Add($"{key}:format: {ex.Message.Split(" (Parameter", 2)[0]}");
            }
        }

        if (s.MaxLineBytes is < 16 or > 16 << 20)
        {
            errors.Add($"{key}:maxLineBytes: must be 16-16777216 (was {s.MaxLineBytes})");
        }

        if (s.IdleTimeout <= TimeSpan.Zero)
        {
            errors.Add($"{key}:idleTimeout: must be positive (was {s.IdleTimeout})");
        }

        if (s.Type is SourceType.Http or SourceType.Otlp or SourceType.Elasticsearch && s.MaxBodyBytesInFlight < s.MaxBodyBytes)
        {
            errors.Add($"{key}:maxBodyBytesInFlight: must be at least maxBodyBytes ({s.MaxBodyBytes}), or no body of the largest size could ever be read (was {s.MaxBodyBytesInFlight})");
        }

        if (s.MaxConnections < 1)
        {
            errors.Add($"{key}:maxConnections: must be at least 1 (was {s.MaxConnections})");
        }

        if (s.MaxBodyBytes < 1)
        {
            errors.Add($"{key}:maxBodyBytes: must be at least 1 (was {s.MaxBodyBytes})");
        }

        if (s.BlockTimeout < TimeSpan.Zero)
        {
            errors.Add($"{key}:blockTimeout: must not be negative (was {s.BlockTimeout})");
        }

        if (s.PollInterval <= TimeSpan.Zero)
        {
            errors.Add($"{key}:pollInterval: must be positive (was {s.PollInterval})");
        }

        if (s.RotateWait < TimeSpan.Zero)
        {
            errors.Add($"{key}:rotateWait: must not be negative (was {s.RotateWait})");
        }
    }

    /// <summary>The store settings a sink's scheme supports: full-text choices and retention.</summary>
    private static void ValidateStore(SinkOptions sink, string key, List<string> errors)
    {
        var scheme = StoreScheme(sink.Uri);
        var canRetain = scheme is "sqlite" or "postgres";
        if (sink.FullText is { } fullText)
        {
            string[]? choices = scheme switch
            {
                "sqlite" => ["words", "trigram", "none"],
                "postgres" => ["trigram", "none"],
                _ => null,
            };
            if (choices is null)
            {
                errors.Add($"{key}:fullText: only sqlite: and postgres: sinks have a full-text index (this sink is '{scheme}:')");
            }
            else if (!choices.Contains(fullText, StringComparer.OrdinalIgnoreCase))
            {
                errors.Add($"{key}:fullText: must be one of {string.Join("|", choices)} for a {scheme}: sink (was '{fullText}')");
            }
        }

        var r = sink.Retention;
        if (r.HasLimit && !canRetain)
        {
            errors.Add($"{key}:retention: only sqlite: and postgres: sinks can delete old events (this sink is '{scheme}:')");
        }

        if (r.MaxAge is { } age && age <= TimeSpan.Zero)
        {
            errors.Add($"{key}:retention:maxAge: must be positive, e.g. 7d (was {age})");
        }

        if (r.MaxBytes is < 1 << 20)
        {
            errors.Add($"{key}:retention:maxBytes: must be at least 1048576 (was {r.MaxBytes})");
        }

        if (r.Interval < TimeSpan.FromSeconds(1) || r.Interval > TimeSpan.FromDays(1))
        {
            errors.Add($"{key}:retention:interval: must be 00:00:01-1.00:00:00 (was {r.Interval})");
        }
    }

    /// <summary>The scheme of the store a sink URI writes to, seeing through <c>slow:</c> and <c>flaky:</c>; <c>postgresql</c> reads as <c>postgres</c>.</summary>
    public static string StoreScheme(string? uri)
    {
        var (scheme, rest) = SinkRegistry.Split(uri ?? string.Empty);
        while (scheme is "slow" or "flaky" && rest.IndexOf('+', StringComparison.Ordinal) is var plus and >= 0)
        {
            (scheme, rest) = SinkRegistry.Split(rest[(plus + 1)..]);
        }

        return scheme == "postgresql" ? "postgres" : scheme;
    }

    private static void ValidateDisk(BufferSettings b, string key, List<string> errors)
    {
        if (!Enum.IsDefined(b.Type))
        {
            errors.Add($"{key}:type: must be memory or disk (was {(int)b.Type})");
        }

        if (b.Type != BufferType.Disk)
        {
            return;
        }

        if (string.IsNullOrWhiteSpace(b.Path))
        {
            errors.Add($"{key}:path: must name a directory when {key}:type is disk");
        }

        if (b.MaxDiskBytes < 64L << 10)
        {
            errors.Add($"{key}:maxDiskBytes: must be at least 65536 (was {b.MaxDiskBytes})");
        }

        if (!Enum.IsDefined(b.Fsync))
        {
            errors.Add($"{key}:fsync: must be one of always|interval|never (was {(int)b.Fsync})");
        }
    }

    private static void ValidateBuffer(BufferSettings b, string key, List<string> errors)
    {
        if (b.Capacity < 1)
        {
            errors.Add($"{key}:capacity: must be at least 1 (was {b.Capacity})");
        }

        if (b.MaxBytes < 1024)
        {
            errors.Add($"{key}:maxBytes: must be at least 1024 (was {b.MaxBytes})");
        }

        if (!Enum.IsDefined(b.FullMode))
        {
            errors.Add($"{key}:fullMode: must be one of block|dropNewest|dropOldest|reject (was {(int)b.FullMode})");
        }

        if (b.BlockTimeout is { } t && t <= TimeSpan.Zero)
        {
            errors.Add($"{key}:blockTimeout: must be positive when set (was {t})");
        }
    }
}
