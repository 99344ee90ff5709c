using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Conveyor.Cli.Tests.Service;

/// <summary>
/// <c>conveyor</c> run as a real process in a temp directory, with its stderr collected line by line so tests can
/// wait for log messages, and SIGTERM sent the way an orchestrator does.
/// </summary>
internal sealed class ConveyorProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _stderr = new();
    private readonly Task _stdoutPump;
    private readonly Task _stderrPump;
    private readonly System.Text.StringBuilder _stdout = new();

    private ConveyorProcess(Process process, string directory)
    {
        _process = process;
        Directory = directory;
        _stdoutPump = Task.Run(async () =>
        {
            var buffer = new char[8192];
            int n;
            while ((n = await process.StandardOutput.ReadAsync(buffer)) > 0)
            {
                lock (_stdout)
                {
                    _stdout.Append(buffer, 0, n);
                }
            }
        });
        _stderrPump = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync() is { } line)
            {
                _stderr.Enqueue(line);
            }
        });
    }

    public string Directory { get; }

    public int Id => _process.Id;

    public string Stderr => string.Join('\n', _stderr);

    public string Stdout
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Starts <c>dotnet conveyor.dll ARGS</c> in <paramref name="directory"/>.</summary>
    public static ConveyorProcess Start(string directory, IEnumerable<string> args, IDictionary<string, string>? environment = null, bool redirectStdin = false)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectStdin,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(CliPath());
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }

        return new ConveyorProcess(Process.Start(psi)!, directory);
    }

    /// <summary>How long a service may take to start: a cold start on a loaded 2-core machine takes seconds.</summary>
    public static readonly TimeSpan Startup = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Starts a service (<c>run …</c>) as <see cref="Start"/> does and waits, up to <see cref="Startup"/>, until it
    /// logs that its pipeline started; a service that never does is stopped and the wait's failure thrown.
    /// </summary>
    public static async Task<ConveyorProcess> StartPipelineAsync(string directory, IEnumerable<string> args, IDictionary<string, string>? environment = null)
    {
        var process = Start(directory, args, environment);
        try
        {
            await process.WaitForLogAsync("Pipeline started", Startup);
            return process;
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Waits until every one of <paramref name="ports"/> on 127.0.0.1 accepts a TCP connection: "Pipeline started" can
    /// be logged a moment before the last HTTP listener is bound, and a refused connection then only means "not yet".
    /// </summary>
    public async Task WaitForListeningAsync(TimeSpan timeout, params int[] ports)
    {
        foreach (var port in ports)
        {
            await TestWait.UntilAsync(async () => _process.HasExited || await AcceptsAsync(port), timeout, $"127.0.0.1:{port} listening");
        }

        Assert.False(_process.HasExited, "conveyor exited before it listened: " + string.Join(Environment.NewLine, _stderr.TakeLast(10)));
    }

    private static async Task<bool> AcceptsAsync(int port)
    {
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(System.Net.IPAddress.Loopback, port);
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    public StreamWriter StandardInput => _process.StandardInput;

    /// <summary>Waits until a stderr line contains <paramref name="text"/>.</summary>
    public async Task WaitForLogAsync(string text, TimeSpan timeout)
    {
        await TestWait.UntilAsync(() => _stderr.Any(l => l.Contains(text, StringComparison.Ordinal)) || _process.HasExited, timeout, $"log '{text}'");
        Assert.True(_stderr.Any(l => l.Contains(text, StringComparison.Ordinal)), $"The process exited before logging '{text}'. stderr:\n{Stderr}");
    }

    /// <summary>SIGKILL: the process dies at once, as in a crash (its output pumps end by themselves).</summary>
    public void Kill() => _process.Kill();

    /// <summary>Sends SIGTERM and waits for the exit code.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
            Assert.Equal(0, kill.ExitCode);
        }

        return await WaitForExitAsync(timeout);
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"conveyor did not exit within {timeout}. stderr:\n{Stderr}");
        }

        await Task.WhenAll(_stdoutPump, _stderrPump);
        return _process.ExitCode;
    }

    /// <summary>A number from the shutdown report, e.g. <c>Report("admitted")</c>.</summary>
    public long Report(string field)
    {
        var line = _stderr.LastOrDefault(l => l.Contains("Shutdown report: received", StringComparison.Ordinal))
            ?? throw new InvalidOperationException("no shutdown report in stderr:\n" + Stderr);
        var m = Regex.Match(line, Regex.Escape(field) + @" (\d+)");
        return m.Success ? long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : throw new InvalidOperationException($"no '{field}' in {line}");
    }

    /// <summary>The sink line of the shutdown report, e.g. <c>SinkReport("stored")</c>.</summary>
    public long SinkReport(string field)
    {
        var line = _stderr.LastOrDefault(l => l.Contains("Shutdown report: sink", StringComparison.Ordinal))
            ?? throw new InvalidOperationException("no sink report in stderr:\n" + Stderr);
        var m = Regex.Match(line, Regex.Escape(field) + @" (\d+)");
        return m.Success ? long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : throw new InvalidOperationException($"no '{field}' in {line}");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    /// <summary>Runs a one-shot <c>conveyor ARGS</c> in <paramref name="dir"/> (at most 60 s); returns exit code, stdout, stderr.</summary>
    public static async Task<(int Code, string Stdout, string Stderr)> RunOnceAsync(string dir, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(CliPath());
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(cts.Token);
        return (p.ExitCode, await stdout, await stderr);
    }

    /// <summary>The CLI built beside this test assembly's configuration.</summary>
    public static string CliPath()
    {
        var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var config = tfm.Parent!;
        var repo = config.Parent!.Parent!.Parent!.Parent!;
        var path = Path.Combine(repo.FullName, "src", "Conveyor.Cli", "bin", config.Name, tfm.Name, "conveyor.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException("Build src/Conveyor.Cli first; the CLI was not found.", path);
    }

    /// <summary>A port nothing listens on now (TCP and UDP).</summary>
    public static int FreePort()
    {
        for (var attempt = 0; ; attempt++)
        {
            using var tcp = new TcpListener(IPAddress.Loopback, 0);
            tcp.Start();
            var port = ((IPEndPoint)tcp.LocalEndpoint).Port;
            try
            {
                using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException) when (attempt < 20)
            {
            }
        }
    }

    private static readonly Lazy<string> RunRoot = new(static () => Conveyor.Logs.Tests.Support.TestRunFolder.Create("conveyor-service-tests"));

    /// <summary>A fresh folder under this test process's root in /tmp/conveyor-service-tests, removed with the root when the process exits.</summary>
    public static string TempDirectory()
    {
        var dir = Path.Combine(RunRoot.Value, Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(dir);
        return dir;
    }
}

/// <summary>Waits on conditions with a deadline, never a fixed sleep.</summary>
internal static class TestWait
{
    public static async Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.StartNew();
        var delay = 10;
        while (!condition())
        {
            if (deadline.Elapsed > timeout)
            {
                Assert.Fail($"Timed out after {timeout} waiting for {what}.");
            }

            // A short back-off between polls of a condition owned by another process, not a sleep standing in for one.
            await Task.Delay(delay);
            delay = Math.Min(delay * 2, 200);
        }
    }

    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.StartNew();
        var delay = 10;
        while (!await condition())
        {
            if (deadline.Elapsed > timeout)
            {
                Assert.Fail($"Timed out after {timeout} waiting for {what}.");
            }

            await Task.Delay(delay);
            delay = Math.Min(delay * 2, 200);
        }
    }
}
