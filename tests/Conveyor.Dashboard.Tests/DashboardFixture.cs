using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Playwright;

namespace Conveyor.Dashboard.Tests;

/// <summary>
/// One real <c>conveyor run</c> (HTTP source on a free port, access-log format, a temp SQLite store) and one
/// headless Debian Chromium, shared by every dashboard test: starting them takes most of the suite's time.
/// </summary>
public class DashboardFixture : IAsyncLifetime
{
    /// <summary>Debian's browser; test.sh installs it. Playwright never downloads one.</summary>
    public const string ChromiumPath = "/usr/bin/chromium";

    private static readonly string[] ChromiumArgs =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
    ];

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "conveyor-dashboard-tests", Guid.NewGuid().ToString("N"));
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Process? _process;
    private IPlaywright? _playwright;

    /// <summary>The bearer token the HTTP source requires; null for none.</summary>
    public virtual string? Token => null;

    public Uri BaseAddress { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    /// <summary>Where screenshots go: the test's output folder, never the repository.</summary>
    public static string ArtifactsDirectory { get; } = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "artifacts")).FullName;

    /// <summary>What the service printed, for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public async Task InitializeAsync()
    {
        // test.sh runs the test projects side by side on two cores; Playwright's 5 s default is tight under that load.
        Assertions.SetDefaultExpectTimeout(15_000);
        Directory.CreateDirectory(_dir);
        var port = FreePort();
        BaseAddress = new Uri($"http://127.0.0.1:{port}/");
        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(10) };

        // The browser starts while the service does.
        var browser = StartBrowserAsync();
        _process = StartService(port);
        await WaitHealthyAsync();
        Browser = await browser;
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
        Http?.Dispose();
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process?.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // A file the killed process still held; the temp folder is cleaned by the OS.
        }
    }

    /// <summary>Posts access-log lines to <c>/ingest</c> and checks they were all admitted.</summary>
    public async Task IngestAsync(IEnumerable<string> lines)
    {
        using var content = new StringContent(string.Join('\n', lines) + "\n", Encoding.UTF8, "text/plain");
        using var response = await Http.PostAsync(new Uri("ingest", UriKind.Relative), content);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"ingest answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>A combined-format line with the given path and user agent, timestamped now.</summary>
    public static string AccessLine(string path, string userAgent = "Mozilla/5.0 (X11; Linux x86_64)", int status = 200) =>
        $"203.0.113.9 - - [{DateTimeOffset.UtcNow:dd/MMM/yyyy:HH:mm:ss} +0000] \"GET {path} HTTP/1.1\" {status} 512 \"-\" \"{userAgent}\"";

    /// <summary>A page with console errors and uncaught exceptions collected, and dialogs recorded and dismissed.</summary>
    public async Task<TestPage> NewPageAsync(int width = 1280, int height = 900)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = BaseAddress.ToString(), ViewportSize = new ViewportSize { Width = width, Height = height } });
        var page = await context.NewPageAsync();
        return new TestPage(context, page);
    }

    private async Task<IBrowser> StartBrowserAsync()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: run ./test.sh, which installs Debian's chromium");
        _playwright = await Playwright.CreateAsync();
        return await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = ChromiumPath, Headless = true, Args = ChromiumArgs });
    }

    private Process StartService(int port)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _dir,
        };
        var store = "sqlite:" + Path.Combine(_dir, "conveyor.db");
        string[] args = [CliPath(), "run", "--from", $"http://127.0.0.1:{port}", "--to", store, "--format", "combined"];
        if (Token is { } token)
        {
            // A token is a source setting, so this run takes its sources from a config file instead of --from.
            var config = Path.Combine(_dir, "conveyor.json");
            File.WriteAllText(config, JsonSerializer.Serialize(new
            {
                Sources = new[] { new { Type = "Http", Host = "127.0.0.1", Port = port, BearerToken = token } },
                Sinks = new[] { new { Uri = store } },
            }));
            args = [CliPath(), "run", "--config", config, "--format", "combined"];
        }

        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }

        if (line.Contains("Now listening on", StringComparison.Ordinal))
        {
            _listening.TrySetResult();
        }
    }

    /// <summary>Kestrel's "Now listening on" line, or the process's exit, whichever comes first.</summary>
    private async Task WaitHealthyAsync()
    {
        var exited = _process!.WaitForExitAsync();
        var first = await Task.WhenAny(_listening.Task, exited).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(first == _listening.Task, "conveyor run exited at start:\n" + Output);
    }

    /// <summary>
    /// The CLI built beside these tests (tests/X/bin/CONFIG/TFM → src/Conveyor.Cli/bin/CONFIG/TFM), or the one
    /// CONVEYOR_CLI names.
    /// </summary>
    private static string CliPath()
    {
        if (Environment.GetEnvironmentVariable("CONVEYOR_CLI") is { Length: > 0 } given)
        {
            return given;
        }

        var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var config = tfm.Parent!;
        var repo = config.Parent!.Parent!.Parent!.Parent!;
        var path = Path.Combine(repo.FullName, "src", "Conveyor.Cli", "bin", config.Name, tfm.Name, "conveyor.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException("Build src/Conveyor.Cli first; the CLI was not found.", path);
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}

/// <summary>The same service with a bearer token on its HTTP source.</summary>
public sealed class TokenDashboardFixture : DashboardFixture
{
    public const string Secret = "s3cret-dashboard-token";

    public override string? Token => Secret;
}

/// <summary>A browser page plus everything it reported: console errors, uncaught errors and dialogs.</summary>
public sealed class TestPage : IAsyncDisposable
{
    private readonly IBrowserContext _context;

    public TestPage(IBrowserContext context, IPage page)
    {
        _context = context;
        Page = page;
        page.Console += (_, m) =>
        {
            if (m.Type == "error")
            {
                lock (Errors)
                {
                    Errors.Add("console: " + m.Text);
                }
            }
        };
        page.PageError += (_, e) =>
        {
            lock (Errors)
            {
                Errors.Add("page error: " + e);
            }
        };
        page.Dialog += async (_, d) =>
        {
            lock (Dialogs)
            {
                Dialogs.Add(d.Type + ": " + d.Message);
            }

            await d.DismissAsync();
        };
    }

    public IPage Page { get; }

    public List<string> Errors { get; } = [];

    public List<string> Dialogs { get; } = [];

    public async ValueTask DisposeAsync() => await _context.CloseAsync();
}
