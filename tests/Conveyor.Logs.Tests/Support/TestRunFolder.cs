using System.Diagnostics;
using System.Globalization;

namespace Conveyor.Logs.Tests.Support;

/// <summary>
/// One folder per test process under /tmp/NAME for everything the tests write (stores, checkpoints, disk buffers,
/// service data), deleted when the process exits. Shared by both test projects (linked into Conveyor.Cli.Tests).
/// </summary>
/// <remarks>
/// Why: a run makes thousands of folders, and kept in /tmp they filled the disk of a machine that ran the suite all
/// day (7,400 folders, ~25 GB). The test host may be stopped before a large delete at exit finishes, so each run
/// also removes the roots of runs whose process is gone; a root whose process id was reused is only kept longer.
/// </remarks>
internal static class TestRunFolder
{
    public static string Create(string name)
    {
        var parent = Path.Combine(Path.GetTempPath(), name);
        var root = Path.Combine(parent, "run-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        foreach (var stale in Directory.EnumerateDirectories(parent, "run-*"))
        {
            if (int.TryParse(Path.GetFileName(stale).Split('-')[1], CultureInfo.InvariantCulture, out var id) && !IsRunning(id))
            {
                TryDelete(stale);
            }
        }

        // Folder by folder, so one that a still-running writer holds (a store a failed test never closed) keeps only itself.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var dir in Directory.EnumerateDirectories(root).ToList())
            {
                TryDelete(dir);
            }

            TryDelete(root);
        };
        return root;
    }

    private static void TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Kept (held open, or another run is removing it): nothing depends on it.
        }
    }

    private static bool IsRunning(int processId)
    {
        try
        {
            using var process = Process.GetProcessById(processId);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
