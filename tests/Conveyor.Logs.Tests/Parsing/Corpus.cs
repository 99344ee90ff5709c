namespace Conveyor.Logs.Tests.Parsing;

/// <summary>The test corpus in the repository (<c>tests/corpus</c> below the folder holding Conveyor.slnx; its MANIFEST.md says where each line came from).</summary>
internal static class Corpus
{
    private static readonly Lazy<string> LazyDirectory = new(Locate);

    /// <summary>The corpus folder; throws (failing the test, never skipping it) when it is missing.</summary>
    public static string Directory => LazyDirectory.Value;

    public static string PathOf(string file) => Path.Combine(Directory, file);

    /// <summary>The lines of a corpus file as raw bytes, split on LF with a trailing CR removed, as <c>conveyor parse</c> reads them.</summary>
    public static IReadOnlyList<byte[]> Lines(string file)
    {
        var bytes = File.ReadAllBytes(PathOf(file));
        var lines = new List<byte[]>();
        var start = 0;
        while (start < bytes.Length)
        {
            var lf = Array.IndexOf(bytes, (byte)'\n', start);
            var end = lf < 0 ? bytes.Length : lf;
            var lineEnd = end > start && bytes[end - 1] == '\r' ? end - 1 : end;
            lines.Add(bytes[start..lineEnd]);
            start = end + 1;
        }

        return lines;
    }

    private static string Locate()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Conveyor.slnx")))
            {
                var corpus = Path.Combine(dir.FullName, "tests", "corpus");
                if (!System.IO.Directory.Exists(corpus))
                {
                    throw new DirectoryNotFoundException($"The test corpus is missing: expected it at {corpus}");
                }

                return corpus;
            }
        }

        throw new DirectoryNotFoundException($"No Conveyor.slnx above {AppContext.BaseDirectory}, so the test corpus cannot be located");
    }
}
