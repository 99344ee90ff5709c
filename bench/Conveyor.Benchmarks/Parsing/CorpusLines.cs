namespace Conveyor.Benchmarks.Parsing;

/// <summary>Lines of the test corpus (<c>tests/corpus</c> in the repository), cycled to a fixed count.</summary>
internal static class CorpusLines
{
    public static byte[][] Load(string file, int count)
    {
        var path = Path.Combine(Root(), "tests", "corpus", file);
        var lines = File.ReadAllLines(path).Where(l => l.Length > 0).Select(System.Text.Encoding.UTF8.GetBytes).ToArray();
        return [.. Enumerable.Range(0, count).Select(i => lines[i % lines.Length])];
    }

    private static string Root()
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
}
