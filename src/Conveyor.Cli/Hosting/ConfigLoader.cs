using Conveyor.Logs.Configuration;
using Conveyor.Logs.Sinks.DuckDb;

namespace Conveyor.Cli.Hosting;

/// <summary>What <c>run</c> and <c>validate</c> were asked for on the command line.</summary>
internal sealed record RunRequest(string? ConfigPath, IReadOnlyList<string> From, IReadOnlyList<string> To, string? Format, bool Demo, string? Buffer = null);

/// <summary>
/// Builds the service configuration from, in increasing precedence: the zero-config defaults (SPEC §3), the config
/// file (JSON or YAML), <c>CONVEYOR__SECTION__KEY</c> environment variables, and the <c>--from/--to/--format</c>
/// switches. Every problem is reported with its key.
/// </summary>
internal static class ConfigLoader
{
    /// <summary>The HTTP port of the zero-config service.</summary>
    public const int DefaultHttpPort = 8080;

    public static (PipelineOptions Options, IReadOnlyList<string> Errors) Load(RunRequest request, IEnumerable<KeyValuePair<string, string?>>? environment = null)
    {
        var errors = new List<string>();
        var options = new PipelineOptions();
        var builder = new ConfigurationBuilder();
        if (request.ConfigPath is { } path)
        {
            var full = Path.GetFullPath(path);
            if (!File.Exists(full))
            {
                return (options, [$"config: file not found ({path})"]);
            }

            var ext = Path.GetExtension(full).ToLowerInvariant();
            if (ext is ".yaml" or ".yml")
            {
                builder.AddYamlFile(full, optional: false, reloadOnChange: false);
            }
            else
            {
                builder.AddJsonFile(full, optional: false, reloadOnChange: false);
            }
        }

        if (environment is null)
        {
            builder.AddEnvironmentVariables("CONVEYOR__");
        }
        else
        {
            builder.AddInMemoryCollection(environment
                .Where(static kv => kv.Key.StartsWith("CONVEYOR__", StringComparison.OrdinalIgnoreCase))
                .Select(static kv => new KeyValuePair<string, string?>(kv.Key["CONVEYOR__".Length..].Replace("__", ":", StringComparison.Ordinal), kv.Value)));
        }

        try
        {
            var config = builder.Build();
            DurationConverter.Register();
            FindUnknownKeys(config, typeof(PipelineOptions), errors);
            config.Bind(options);
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException or InvalidDataException)
        {
            errors.Add(DescribeBindError(ex));
            return (options, errors);
        }

        if (request.From.Count > 0)
        {
            options.Sources.Clear();
            foreach (var uri in request.From)
            {
                try
                {
                    options.Sources.Add(SourceUri.Parse(uri));
                }
                catch (FormatException ex)
                {
                    errors.Add("--from: " + ex.Message);
                }
            }
        }

        if (request.To.Count > 0)
        {
            options.Sinks.Clear();
            options.Sinks.AddRange(request.To.Select(static uri => new SinkOptions { Uri = uri }));
        }

        if (request.ConfigPath is null && request.From.Count == 0 && options.Sources.Count == 0)
        {
            options.Sources.AddRange(DefaultSources());
        }

        if (request.ConfigPath is null && request.To.Count == 0 && options.Sinks.Count == 0)
        {
            options.Sinks.Add(new SinkOptions { Uri = "duckdb:" + DuckDbSinkOptions.DefaultPath });
        }

        if (request.Buffer is { } buffer)
        {
            ApplyBufferUri(buffer, options.Buffer, errors);
        }

        if (request.Format is { } format)
        {
            foreach (var s in options.Sources)
            {
                s.Format = format;
            }
        }

        if (request.Demo && !options.Sources.Any(static s => s.Type == SourceType.Http))
        {
            options.Sources.Add(new SourceOptions { Type = SourceType.Http, Port = DefaultHttpPort });
        }

        errors.AddRange(PipelineOptionsValidator.Validate(options));
        return (options, errors);
    }

    /// <summary><c>--buffer memory</c> or <c>--buffer disk:DIR</c> (<c>disk:</c> alone: the default directory).</summary>
    internal static void ApplyBufferUri(string value, BufferSettings buffer, List<string> errors)
    {
        if (value is "memory" or "memory:")
        {
            buffer.Type = BufferType.Memory;
        }
        else if (value.StartsWith("disk:", StringComparison.Ordinal))
        {
            buffer.Type = BufferType.Disk;
            var path = value["disk:".Length..];
            buffer.Path = path.Length == 0 ? BufferSettings.DefaultDiskPath : path;
        }
        else
        {
            errors.Add($"--buffer: expected memory or disk:DIR (was '{value}')");
        }
    }

    /// <summary>SPEC §3: HTTP on 8080, TCP lines on 5170, syslog on UDP and TCP 5514, all on 127.0.0.1.</summary>
    public static IEnumerable<SourceOptions> DefaultSources() =>
    [
        new SourceOptions { Type = SourceType.Http, Port = DefaultHttpPort },
        new SourceOptions { Type = SourceType.Tcp, Port = 5170 },
        new SourceOptions { Type = SourceType.SyslogUdp, Port = 5514 },
        new SourceOptions { Type = SourceType.SyslogTcp, Port = 5514 },
    ];

    /// <summary>Reports every key that maps onto no option, so a typo is an error rather than a silently ignored setting.</summary>
    private static void FindUnknownKeys(IConfiguration section, Type type, List<string> errors)
    {
        foreach (var child in section.GetChildren())
        {
            var path = child is IConfigurationSection s ? s.Path : child.Key;
            var property = type.GetProperty(child.Key, System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.IgnoreCase);
            if (property is null || !property.CanWrite && !IsComplex(property.PropertyType))
            {
                errors.Add($"{path}: unknown key (expected one of {string.Join(", ", type.GetProperties().Where(static p => p.CanWrite).Select(static p => char.ToLowerInvariant(p.Name[0]) + p.Name[1..]))})");
                continue;
            }

            var target = property.PropertyType;
            if (target.IsGenericType && target.GetGenericTypeDefinition() == typeof(List<>))
            {
                var item = target.GetGenericArguments()[0];
                foreach (var element in child.GetChildren())
                {
                    if (IsComplex(item))
                    {
                        FindUnknownKeys(element, item, errors);
                    }
                }
            }
            else if (IsComplex(target))
            {
                FindUnknownKeys(child, target, errors);
            }
        }
    }

    private static bool IsComplex(Type t) =>
        t.IsClass && t != typeof(string) && !t.IsGenericType;

    private static string DescribeBindError(Exception ex)
    {
        // The binder says "Failed to convert configuration value at 'sources:0:port' to type 'System.Int32'." or
        // "'Prot' was not found on 'Conveyor.Logs.Sources.SourceOptions'"; turn both into "key: problem".
        var message = ex.Message;
        var at = message.IndexOf(" at '", StringComparison.Ordinal);
        if (at >= 0)
        {
            var end = message.IndexOf('\'', at + 5);
            if (end > at)
            {
                var key = message[(at + 5)..end];
                var type = message.Contains("type '", StringComparison.Ordinal) ? message[(message.IndexOf("type '", StringComparison.Ordinal) + 6)..].TrimEnd('.', '\'') : "the expected type";
                return $"{key}: not a valid {type.Replace("System.", string.Empty, StringComparison.Ordinal)}";
            }
        }

        if (message.StartsWith("Error:", StringComparison.Ordinal) || message.Contains("was not found", StringComparison.Ordinal))
        {
            return "config: " + message.Replace(Environment.NewLine, " ", StringComparison.Ordinal);
        }

        return "config: " + message;
    }
}
