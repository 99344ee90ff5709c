using System.Diagnostics;
using Conveyor.Logs.Model;
using Conveyor.Logs.Sinks.Sqlite;

namespace Conveyor.Cli.Tests.Commands;

public sealed class QueryCommandTests : IAsyncLifetime
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), "conveyor-cli-tests", Guid.NewGuid().ToString("N"), "conveyor.db");
    private string _stdout = string.Empty;
    private string _stderr = string.Empty;

    public async Task InitializeAsync()
    {
        await using var sink = await SqliteSink.OpenAsync(new SqliteSinkOptions { Path = _path });
        var start = new DateTimeOffset(2026, 11, 20, 10, 0, 0, TimeSpan.Zero);
        var events = Enumerable.Range(1, 5).Select(i =>
        {
            var e = new LogEvent($"c{i}", "web", $"line {i} status {(i == 4 ? 500 : 200)}", start.AddMinutes(i)) { Timestamp = start.AddMinutes(i), SeverityText = "INFO", SeverityNumber = Severity.Info };
            e.Attributes.Set(SemanticNames.HttpResponseStatusCode, i == 4 ? 500L : 200L);
            return e;
        }).ToList();
        await sink.WriteBatchAsync(events, default);
        await sink.WriteDeadLettersAsync([new DeadLetter("d1", "tcp", "combined", "no request line", "garbage", start)], default);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>
    /// Runs the real executable: the test assembly cannot see the CLI's internals because the CLI assembly
    /// (<c>conveyor</c>) and the library (<c>Conveyor</c>) differ only in case, so the reference resolver keeps one.
    /// This also checks exit codes and which stream each message goes to, end to end.
    /// </summary>
    private static string CliPath()
    {
        // tests/Conveyor.Cli.Tests/bin/CONFIG/TFM → src/Conveyor.Cli/bin/CONFIG/TFM
        var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var config = tfm.Parent!;
        var repo = config.Parent!.Parent!.Parent!.Parent!;
        var path = Path.Combine(repo.FullName, "src", "Conveyor.Cli", "bin", config.Name, tfm.Name, "conveyor.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException("Build src/Conveyor.Cli first; the CLI was not found.", path);
    }

    private async Task<int> Run(params string[] args)
    {
        var cli = CliPath();
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(cli);
        psi.ArgumentList.Add("query");
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        if (!args.Contains("--store"))
        {
            psi.ArgumentList.Add("--store");
            psi.ArgumentList.Add("sqlite:" + _path);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(cts.Token);
        _stdout = await stdout;
        _stderr = await stderr;
        return p.ExitCode;
    }

    [Fact]
    public async Task Query_Redirected_PrintsTabSeparatedNewestFirst()
    {
        Assert.Equal(0, await Run("*"));
        var lines = _stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(5, lines.Length);
        Assert.EndsWith("line 5 status 200", lines[0], StringComparison.Ordinal);
        Assert.Equal(4, lines[0].Split('\t').Length);
        Assert.Empty(_stderr);
    }

    [Fact]
    public async Task Query_Json_PrintsOneEventObjectPerLine()
    {
        Assert.Equal(0, await Run("status = 500", "--json"));
        var line = Assert.Single(_stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using var doc = System.Text.Json.JsonDocument.Parse(line);
        Assert.Equal("c4", doc.RootElement.GetProperty("id").GetString());
        Assert.Equal("2026-11-20T10:04:00+00:00", doc.RootElement.GetProperty("timestamp").GetString());
        Assert.Equal(500, doc.RootElement.GetProperty("attributes").GetProperty("http.response.status_code").GetInt32());
    }

    [Fact]
    public async Task Query_Count_PrintsOnlyTheNumber()
    {
        Assert.Equal(0, await Run("status = 200", "--count"));
        Assert.Equal("4", _stdout.Trim());
    }

    [Fact]
    public async Task Query_DeadLetters_SearchesDeadLetters()
    {
        Assert.Equal(0, await Run("garbage", "--count", "--dead-letters"));
        Assert.Equal("1", _stdout.Trim());
    }

    [Fact]
    public async Task Query_SyntaxError_PrintsColumnToStderrAndExits2()
    {
        Assert.Equal(2, await Run("status >="));
        Assert.Equal("error: column 10: expected a value after '>=', found the end of the query", _stderr.Trim());
        Assert.Empty(_stdout);
    }

    [Fact]
    public async Task Query_MissingStore_Exits1WithMessage()
    {
        Assert.Equal(1, await Run("*", "--store", "sqlite:/nonexistent/x.db"));
        Assert.Contains("No SQLite store at '/nonexistent/x.db'", _stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Query_BadSince_Exits2()
    {
        Assert.Equal(2, await Run("*", "--since", "soon"));
        Assert.StartsWith("error: --since", _stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Query_ExpressionInSeveralArgumentsWithOptions_JoinsThem()
    {
        Assert.Equal(0, await Run("status", ">=", "500", "--since", "3650d", "--limit", "7", "--count"));
        Assert.Equal("1", _stdout.Trim());
    }
}
