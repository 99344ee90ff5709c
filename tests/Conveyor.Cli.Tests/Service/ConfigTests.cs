namespace Conveyor.Cli.Tests.Service;

/// <summary><c>conveyor validate</c> and <c>conveyor run --config</c> agree on what is wrong, naming each key.</summary>
public sealed class ConfigTests
{
    [Fact]
    public async Task Run_BadConfig_ExitsTwoNamingTheKey()
    {
        var dir = ConveyorProcess.TempDirectory();
        var config = Path.Combine(dir, "bad.yaml");
        await File.WriteAllTextAsync(config, """
            sources:
              - type: tcp
                port: 70000
              - type: http
                port: 8080
                prot: 1
            buffer:
              capacity: 0
            sinks:
              - uri: "mysql:x"
            """);
        await using var run = ConveyorProcess.Start(dir, ["run", "--config", config]);
        Assert.Equal(2, await run.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("sources:0:port: must be 1-65535 (was 70000)", run.Stderr, StringComparison.Ordinal);
        await using var validate = ConveyorProcess.Start(dir, ["validate", "--config", config]);
        Assert.Equal(2, await validate.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("sources:0:port: must be 1-65535 (was 70000)", validate.Stderr, StringComparison.Ordinal);
        Assert.Contains("sources:1:prot: unknown key", validate.Stderr, StringComparison.Ordinal);
        Assert.Contains("buffer:capacity: must be at least 1 (was 0)", validate.Stderr, StringComparison.Ordinal);
        Assert.Contains("sinks:0:uri: unknown sink 'mysql:x'", validate.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_EveryExample_IsValid()
    {
        var examples = Path.Combine(RepositoryRoot(), "examples");
        var files = Directory.EnumerateFiles(examples, "*", SearchOption.AllDirectories).Where(static f => f.EndsWith(".json", StringComparison.Ordinal) || f.EndsWith(".yaml", StringComparison.Ordinal)).ToList();
        Assert.True(files.Count >= 2, "examples/ should hold at least the SQLite and PostgreSQL configs");
        var dir = ConveyorProcess.TempDirectory();
        foreach (var file in files)
        {
            await using var p = ConveyorProcess.Start(dir, ["validate", "--config", file]);
            Assert.True(await p.WaitForExitAsync(TimeSpan.FromSeconds(60)) == 0, $"{file}: {p.Stderr}");
        }
    }

    [Fact]
    public async Task Validate_EnvironmentOverride_IsChecked()
    {
        var dir = ConveyorProcess.TempDirectory();
        var config = Path.Combine(RepositoryRoot(), "examples", "sqlite.yaml");
        await using var p = ConveyorProcess.Start(dir, ["validate", "--config", config], new Dictionary<string, string> { ["CONVEYOR__BUFFER__MAXBYTES"] = "12" });
        Assert.Equal(2, await p.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("buffer:maxBytes: must be at least 1024 (was 12)", p.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_PortInUse_ExitsOneSayingWhy()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        var dir = ConveyorProcess.TempDirectory();
        await using var p = ConveyorProcess.Start(dir, ["run", "--from", $"tcp://127.0.0.1:{port}", "--to", "null:"]);
        Assert.Equal(1, await p.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("could not start", p.Stderr, StringComparison.Ordinal);
        Assert.Contains("in use", p.Stderr, StringComparison.OrdinalIgnoreCase);
    }

    internal static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Conveyor.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new DirectoryNotFoundException("repository root");
    }
}
