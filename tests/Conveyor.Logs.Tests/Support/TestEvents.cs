using Conveyor.Logs.Model;

namespace Conveyor.Logs.Tests.Support;

internal static class TestEvents
{
    public static readonly DateTimeOffset Base = new(2026, 11, 20, 10, 0, 0, TimeSpan.Zero);

    /// <summary>A plain access-log event with a unique id under <paramref name="prefix"/>.</summary>
    public static LogEvent Access(string prefix, int i, DateTimeOffset? at = null)
    {
        var ts = at ?? Base.AddSeconds(i);
        var e = new LogEvent($"{prefix}-{i:D6}", "web", $"10.0.0.{i % 250} - - \"GET /item/{i} HTTP/1.1\" 200 {i}", ts.AddMilliseconds(5))
        {
            Timestamp = ts,
            SeverityNumber = Severity.Info,
            SeverityText = "INFO",
        };
        e.Attributes.Set(SemanticNames.ClientAddress, $"10.0.0.{i % 250}");
        e.Attributes.Set(SemanticNames.HttpRequestMethod, "GET");
        e.Attributes.Set(SemanticNames.UrlOriginal, $"/item/{i}");
        e.Attributes.Set(SemanticNames.HttpResponseStatusCode, 200L);
        e.Attributes.Set(SemanticNames.HttpResponseBodySize, (long)i);
        return e;
    }

    public static List<LogEvent> Batch(string prefix, int count, int start = 0) =>
        Enumerable.Range(start, count).Select(i => Access(prefix, i)).ToList();

    private static readonly Lazy<string> RunRoot = new(static () => TestRunFolder.Create("conveyor-store-tests"));

    public static string TempFolder()
    {
        var dir = Path.Combine(RunRoot.Value, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Waits for <paramref name="condition"/> with a deadline instead of sleeping a fixed time.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, Func<Task<string>>? state = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout} waiting for {what}." + (state is null ? string.Empty : " State: " + await state()));
            }

            await Task.Delay(50);
        }
    }
}
