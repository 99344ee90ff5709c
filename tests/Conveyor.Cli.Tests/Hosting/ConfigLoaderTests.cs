using Conveyor.Cli.Hosting;
using Conveyor.Logs.Configuration;

namespace Conveyor.Cli.Tests.Hosting;

public sealed class ConfigLoaderTests
{
    private static readonly Dictionary<string, string?> NoEnvironment = [];

    [Fact]
    public void Load_NoConfigNoSwitches_ZeroConfigDefaultsOfSpec()
    {
        var (options, errors) = ConfigLoader.Load(new RunRequest(null, [], [], null, false), NoEnvironment);
        Assert.Empty(errors);
        Assert.Equal(
            [(SourceType.Http, 8080), (SourceType.Tcp, 5170), (SourceType.SyslogUdp, 5514), (SourceType.SyslogTcp, 5514), (SourceType.Otlp, 4318), (SourceType.OtlpGrpc, 4317)],
            options.Sources.Select(static s => (s.Type, s.Port)));
        Assert.All(options.Sources, static s => Assert.Equal("127.0.0.1", s.Host));
        Assert.Equal("duckdb:./conveyor-data/conveyor.duckdb", Assert.Single(options.Sinks).Uri);
        Assert.Equal((20_000, 64L << 20, FullMode.Block), (options.Buffer.Capacity, options.Buffer.MaxBytes, options.Buffer.FullMode));
        Assert.Equal(TimeSpan.FromSeconds(30), options.Shutdown.DrainTimeout);
    }

    [Fact]
    public void Load_FromToAndFormat_ReplaceDefaultsAndSetEverySourcesFormat()
    {
        var (options, errors) = ConfigLoader.Load(new RunRequest(null, ["tcp://127.0.0.1:9000", "stdin:"], ["null:", "slow:5ms+null:"], "json", false), NoEnvironment);
        Assert.Empty(errors);
        Assert.Equal([SourceType.Tcp, SourceType.Stdin], options.Sources.Select(static s => s.Type));
        Assert.All(options.Sources, static s => Assert.Equal("json", s.EffectiveFormat));
        Assert.Equal(["null:", "slow:5ms+null:"], options.Sinks.Select(static s => s.Uri));
    }

    [Fact]
    public void Load_EnvironmentVariables_OverrideKeys()
    {
        var env = new Dictionary<string, string?>
        {
            ["CONVEYOR__BUFFER__CAPACITY"] = "1234",
            ["CONVEYOR__SHUTDOWN__DRAINTIMEOUT"] = "5s",
            ["CONVEYOR__SOURCES__0__IDLETIMEOUT"] = "00:00:07",
            ["CONVEYOR__SOURCES__0__TYPE"] = "tcp",
            ["CONVEYOR__SOURCES__0__PORT"] = "9000",
            ["OTHER__BUFFER__CAPACITY"] = "1",
        };
        var (options, errors) = ConfigLoader.Load(new RunRequest(null, [], ["null:"], null, false), env);
        Assert.Empty(errors);
        Assert.Equal(1234, options.Buffer.Capacity);
        Assert.Equal(TimeSpan.FromSeconds(5), options.Shutdown.DrainTimeout);
        Assert.Equal(TimeSpan.FromSeconds(7), Assert.Single(options.Sources).IdleTimeout);
    }

    [Fact]
    public void Load_DuckDbWriters_BindsWithDefaultTwoAndIsValidatedWithItsKey()
    {
        var (defaults, none) = ConfigLoader.Load(new RunRequest(null, [], [], null, false), NoEnvironment);
        Assert.Empty(none);
        Assert.Equal(2, Assert.Single(defaults.Sinks).DuckDb.Writers);

        var env = new Dictionary<string, string?> { ["CONVEYOR__SINKS__0__URI"] = "duckdb:x.duckdb", ["CONVEYOR__SINKS__0__DUCKDB__WRITERS"] = "1" };
        var (one, errors) = ConfigLoader.Load(new RunRequest(null, [], [], null, false), env);
        Assert.Empty(errors);
        Assert.Equal(1, Assert.Single(one.Sinks).DuckDb.Writers);

        env["CONVEYOR__SINKS__0__DUCKDB__WRITERS"] = "0";
        Assert.Contains("sinks:0:duckdb:writers: must be 1-8 (was 0)", ConfigLoader.Load(new RunRequest(null, [], [], null, false), env).Errors);
    }

    [Fact]
    public void Load_SinkRetry_BindsOntoTheSinkDefaultsAndKeepsTheirErrorClassification()
    {
        var env = new Dictionary<string, string?>
        {
            ["CONVEYOR__SINKS__0__URI"] = "null:",
            ["CONVEYOR__SINKS__0__RETRY__MAXATTEMPTS"] = "5",
            ["CONVEYOR__SINKS__0__RETRY__BASEDELAY"] = "50ms",
            ["CONVEYOR__SINKS__1__URI"] = "null:",
            ["CONVEYOR__SINKS__1__RETRY__MAXATTEMPTS"] = "0",
        };
        var (options, errors) = ConfigLoader.Load(new RunRequest(null, [], [], null, false), env);

        var retry = options.Sinks[0].Retry;
        Assert.Equal((5, TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(5)), (retry.MaxAttempts, retry.BaseDelay, retry.MaxDelay));
        Assert.Equal(61, new SinkOptions().Retry.MaxAttempts);
        Assert.False(retry.IsTransient(new Conveyor.Logs.Sinks.SinkException("refused", isTransient: false)));
        Assert.True(retry.IsTransient(new Conveyor.Logs.Sinks.SinkException("down", isTransient: true)));
        Assert.Equal(["sinks:1:retry:maxAttempts: must be 1-1000000, the first attempt included (was 0)"], errors);
    }

    [Fact]
    public void Load_BadValuesAndUnknownKeys_NameTheKey()
    {
        var env = new Dictionary<string, string?> { ["CONVEYOR__BUFFER__CAPACITTY"] = "5", ["CONVEYOR__PARSE__WORKERS"] = "many" };
        var (_, errors) = ConfigLoader.Load(new RunRequest(null, ["bogus://x"], [], null, false), env);
        Assert.Contains(errors, static e => e.StartsWith("buffer:capacitty: unknown key", StringComparison.OrdinalIgnoreCase));
        Assert.Contains(errors, static e => e.StartsWith("parse:workers: not a valid", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void Load_ParseWorkers_MinWorkersBoundByTheMostAndNamedWhenOutside()
    {
        var env = new Dictionary<string, string?> { ["CONVEYOR__PARSE__WORKERS"] = "3", ["CONVEYOR__PARSE__MINWORKERS"] = "2" };
        var (options, errors) = ConfigLoader.Load(new RunRequest(null, [], [], null, false), env);
        Assert.Empty(errors);
        Assert.Equal((3, 2), (options.Parse.Workers, options.Parse.MinWorkers));
        Assert.Equal(1, new ParseSettings().MinWorkers);

        env["CONVEYOR__PARSE__MINWORKERS"] = "4";
        (_, errors) = ConfigLoader.Load(new RunRequest(null, [], [], null, false), env);
        Assert.Equal(["parse:minWorkers: must be 1-3 (parse:workers) (was 4)"], errors);
    }

    [Fact]
    public void Load_MissingFile_SaysSo()
    {
        var (_, errors) = ConfigLoader.Load(new RunRequest("/nonexistent/conveyor.yaml", [], [], null, false), NoEnvironment);
        Assert.Equal(["config: file not found (/nonexistent/conveyor.yaml)"], errors);
    }
}
