using System.Diagnostics;
using System.Text.Json;

namespace Conveyor.Cli.Tests.Commands;

/// <summary>
/// <c>conveyor parse</c> end to end, run as the built executable: the CLI assembly (<c>conveyor</c>) and the library
/// (<c>Conveyor</c>) differ only in case, so MSBuild drops the CLI from this project's references and it cannot be
/// invoked in-process. The streaming core is tested in-process in Conveyor.Logs.Tests (LineParseRunnerTests).
/// </summary>
public sealed class ParseCommandTests
{
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Conveyor.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("No Conveyor.slnx above " + AppContext.BaseDirectory);
    }

    private static (int ExitCode, string[] Stdout, string Stderr) Run(string arguments, string? stdin = null)
    {
        var configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        var cli = Path.Combine(RepositoryRoot(), "src", "Conveyor.Cli", "bin", configuration, "net10.0", "conveyor.dll");
        Assert.True(File.Exists(cli), "build the CLI first: " + cli);
        var start = new ProcessStartInfo("dotnet", $"\"{cli}\" {arguments}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start)!;
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
        }

        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(60_000), "conveyor parse did not finish");
        return (process.ExitCode, stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries), stderr.Result);
    }

    [Fact]
    public void Parse_StdinWithAFailingLine_PrintsOneJsonLinePerInputLineAndExitsZero()
    {
        var (exit, lines, _) = Run("parse --format auto -", "{\"msg\":\"a\"}\n{not a log\n<13>1 - h a - - - b\n");

        Assert.Equal(0, exit);
        Assert.Equal(3, lines.Length);
        using var first = JsonDocument.Parse(lines[0]);
        Assert.Equal("stdin:1", first.RootElement.GetProperty("id").GetString());
        using var second = JsonDocument.Parse(lines[1]);
        Assert.Equal(2, second.RootElement.GetProperty("line").GetInt32());
        using var third = JsonDocument.Parse(lines[2]);
        Assert.Equal("b", third.RootElement.GetProperty("body").GetString());
    }

    [Fact]
    public void Parse_FreeTextLine_IsAPlainEventAndStderrCountsFormats()
    {
        var (exit, lines, stderr) = Run("parse -", "payment failed for order 42\nERROR: card declined\n{broken\n");

        Assert.Equal(0, exit);
        Assert.Equal(3, lines.Length);
        using var first = JsonDocument.Parse(lines[0]);
        Assert.Equal("payment failed for order 42", first.RootElement.GetProperty("body").GetString());
        Assert.Equal(0, first.RootElement.GetProperty("severity_number").GetInt32());
        using var second = JsonDocument.Parse(lines[1]);
        Assert.Equal("ERROR", second.RootElement.GetProperty("severity_text").GetString());
        Assert.Equal(17, second.RootElement.GetProperty("severity_number").GetInt32());
        using var third = JsonDocument.Parse(lines[2]);
        Assert.StartsWith("json: invalid JSON", third.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains("conveyor parse: 3 lines: 2 plain; 1 failed", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_FreeTextWithExplicitFormat_FailsEveryLine()
    {
        var (exit, lines, _) = Run("parse --format json -", "payment failed for order 42\n");

        Assert.Equal(0, exit);
        using var only = JsonDocument.Parse(Assert.Single(lines));
        Assert.StartsWith("json: expected '{'", only.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_FileWithEnrich_IdsUseTheFileNameAndEnrichersRun()
    {
        var path = Path.Combine(Path.GetTempPath(), "conveyor-parse-" + Guid.NewGuid().ToString("N") + ".log");
        File.WriteAllText(path, "10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \"GET / HTTP/1.1\" 404 0 \"-\" \"curl/8.5.0\"\n");
        try
        {
            var (exit, lines, _) = Run($"parse --format combined --enrich \"{path}\"");

            Assert.Equal(0, exit);
            using var doc = JsonDocument.Parse(Assert.Single(lines));
            Assert.Equal(Path.GetFileName(path) + ":1", doc.RootElement.GetProperty("id").GetString());
            Assert.Equal("4xx", doc.RootElement.GetProperty("attributes").GetProperty("http.response.status_class").GetString());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Parse_UnknownFormat_FailsWithUsageError()
    {
        var (exit, _, stderr) = Run("parse --format apache -", string.Empty);
        Assert.NotEqual(0, exit);
        Assert.Contains("apache", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_MissingFile_ExitCode2()
    {
        var (exit, _, stderr) = Run("parse /nonexistent/conveyor-test.log");
        Assert.Equal(2, exit);
        Assert.Contains("file not found", stderr, StringComparison.Ordinal);
    }
}
