using System.Diagnostics;
using System.Globalization;

namespace Conveyor.Cli.Tests.Service;

/// <summary>
/// A real log shipper (rsyslogd, syslog-ng) run as a private foreground process with its own config in a temp
/// folder, its output in a file there (no pipes a child could keep open), stopped with SIGTERM and, past a deadline,
/// SIGKILL, so a shipper that does not exit on its own never holds the test.
/// </summary>
internal sealed class ShipperProcess : IAsyncDisposable
{
    private static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(10);

    private readonly Process _process;
    private readonly string _log;

    private ShipperProcess(Process process, string name, string log)
    {
        _process = process;
        Name = name;
        _log = log;
    }

    public string Name { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>What the shipper wrote to stdout and stderr so far.</summary>
    public string Output => File.Exists(_log) ? File.ReadAllText(_log) : string.Empty;

    /// <summary>Starts <paramref name="executable"/> with <paramref name="args"/>; stdout and stderr go to <c>NAME.out</c> in <paramref name="directory"/>.</summary>
    public static ShipperProcess Start(string name, string executable, IEnumerable<string> args, string directory)
    {
        var log = Path.Combine(directory, name + ".out");

        // exec keeps the shipper's pid the one we hold, so the signals reach it and not a shell.
        var psi = new ProcessStartInfo("/bin/sh") { WorkingDirectory = directory, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("log=$1; shift; exec \"$@\" >\"$log\" 2>&1");
        psi.ArgumentList.Add("sh");
        psi.ArgumentList.Add(log);
        psi.ArgumentList.Add(executable);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        return new ShipperProcess(Process.Start(psi)!, name, log);
    }

    /// <summary>
    /// The path of a tool named by environment variable <paramref name="variable"/>, else <paramref name="fallback"/>;
    /// fails the test, saying how to get it, when it is not there. test.sh installs the shippers and sets the variables.
    /// </summary>
    public static string Tool(string variable, string fallback, string what)
    {
        var path = Environment.GetEnvironmentVariable(variable) is { Length: > 0 } given ? given : fallback;
        if (!File.Exists(path) && !Directory.Exists(path))
        {
            Assert.Fail($"{what} was not found at {path}: run the tests through ./test.sh, which installs it and sets {variable}, or set {variable} yourself.");
        }

        return path;
    }

    /// <summary>SIGTERM, then SIGKILL if the shipper is still running after the deadline; returns once it has exited.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited)
        {
            return;
        }

        using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await term.WaitForExitAsync();
        }

        using var deadline = new CancellationTokenSource(StopDeadline);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
    }
}
