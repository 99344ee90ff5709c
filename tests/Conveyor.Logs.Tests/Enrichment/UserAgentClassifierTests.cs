using Conveyor.Logs.Enrichment;
using Conveyor.Logs.Model;
using Conveyor.Logs.Parsing;
using Conveyor.Logs.Tests.Parsing;
using Xunit.Abstractions;

namespace Conveyor.Logs.Tests.Enrichment;

public sealed class UserAgentClassifierTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_12_0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/54.0.2840.59 Safari/537.36", "Chrome", "54.0.2840.59", "macOS", "desktop", false)]
    [InlineData("Mozilla/5.0 (Windows NT 6.1; rv:15.0) Gecko/20120716 Firefox/15.0a2", "Firefox", "15.0", "Windows", "desktop", false)]
    [InlineData("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1", "Safari", "17.1", "iOS", "mobile", false)]
    [InlineData("Mozilla/5.0 (iPad; CPU OS 12_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1 Mobile/15E148 Safari/604.1", "Safari", "12.1", "iOS", "tablet", false)]
    [InlineData("Mozilla/5.0 (Linux; Android 13; SM-S908B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/112.0.0.0 Mobile Safari/537.36", "Chrome", "112.0.0.0", "Android", "mobile", false)]
    [InlineData("Mozilla/5.0 (Linux; Android 9; SM-T820) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/90.0.4430.91 Safari/537.36", "Chrome", "90.0.4430.91", "Android", "tablet", false)]
    [InlineData("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91", "Edge", "120.0.2210.91", "Windows", "desktop", false)]
    [InlineData("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0", "Opera", "105.0.0.0", "Windows", "desktop", false)]
    [InlineData("Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko", "Internet Explorer", "11.0", "Windows", "desktop", false)]
    [InlineData("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)", "Internet Explorer", "6.0", "Windows", "desktop", false)]
    [InlineData("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/75.0.3770.100 Safari/537.36", "Chrome", "75.0.3770.100", "Linux", "desktop", false)]
    [InlineData("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot", "2.1", null, "bot", true)]
    [InlineData("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bingbot", "2.0", null, "bot", true)]
    [InlineData("Mozilla/5.0 (compatible; Facebot 1.0; https://developers.facebook.com/docs/sharing/webmasters/crawler)", "Facebot", "1.0", null, "bot", true)]
    [InlineData("curl/8.5.0", "curl", "8.5.0", null, "bot", true)]
    [InlineData("python-requests/2.31.0", "python-requests", "2.31.0", null, "bot", true)]
    [InlineData("Mozilla/5.0 (compatible; SeznamBot/3.2; +http://napoveda.seznam.cz/en/seznambot-intro/)", "SeznamBot", "3.2", null, "bot", true)]
    [InlineData("Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)", "Pingdom", null, null, "bot", true)]
    [InlineData("Mozilla/5.0", "Other", null, null, "other", false)]
    [InlineData("", "Other", null, null, "other", false)]
    public void Classify_KnownAgent_ReturnsNameVersionOsDevice(string ua, string name, string? version, string? os, string device, bool bot)
    {
        var info = UserAgentClassifier.ClassifyUncached(ua);
        Assert.Equal(new UserAgentInfo(name, version, os, device, bot), info);
    }

    [Fact]
    public void Classify_MoreDistinctAgentsThanTheCache_StaysCorrect()
    {
        var classifier = new UserAgentClassifier(cacheSize: 4);
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal("curl", classifier.Classify("curl/7." + i).Name);
        }

        Assert.Same(classifier.Classify("curl/7.49"), classifier.Classify("curl/7.49"));
    }

    [Fact]
    public void Classify_ManyAgentsSharingFrontCacheSlots_EachGetsItsOwnAnswer()
    {
        // 5,000 agents over the 256 slots keyed by object identity, each asked twice as the same object and once as an
        // equal copy, from two threads: a slot may only answer for the very string that filled it.
        var classifier = new UserAgentClassifier();
        var agents = Enumerable.Range(0, 5_000)
            .Select(i => i % 2 == 0 ? $"Mozilla/5.0 (Windows NT 10.0) Chrome/{i}.0 Safari/537.36" : $"curl/{i}.1")
            .ToArray();
        Parallel.For(0, 2, _ =>
        {
            foreach (var ua in agents)
            {
                var expected = UserAgentClassifier.ClassifyUncached(ua);
                Assert.Equal(expected, classifier.Classify(ua));
                Assert.Equal(expected, classifier.Classify(ua));
                Assert.Equal(expected, classifier.Classify(new string(ua.AsSpan())));
            }
        });
    }

    [Fact]
    public void Classify_EveryCorpusUserAgent_MostAreRecognised()
    {
        var parser = LogParsers.Create("combined");
        var agents = new List<string>();
        foreach (var file in new[] { "apache-combined.log", "nginx-combined.log", "access-edge-cases.log" })
        {
            foreach (var line in Corpus.Lines(file))
            {
                var e = parser.Parse(line, new LineContext(file, file, DateTimeOffset.UnixEpoch)).Event;
                if (e is not null && e.Attributes.TryGetString(SemanticNames.UserAgentOriginal, out var ua))
                {
                    agents.Add(ua);
                }
            }
        }

        var infos = agents.Select(UserAgentClassifier.ClassifyUncached).ToList();
        var other = infos.Count(i => i.Name == "Other");
        var distinct = agents.Distinct(StringComparer.Ordinal).ToList();
        var distinctOther = distinct.Where(a => UserAgentClassifier.ClassifyUncached(a).Name == "Other").ToList();
        output.WriteLine($"lines with a user agent: {infos.Count}; classified {100.0 * (infos.Count - other) / infos.Count:F1}%, Other {100.0 * other / infos.Count:F1}%; bots {100.0 * infos.Count(i => i.IsBot) / infos.Count:F1}%");
        output.WriteLine($"distinct agents: {distinct.Count}; classified {100.0 * (distinct.Count - distinctOther.Count) / distinct.Count:F1}%");
        foreach (var group in agents.Where(a => UserAgentClassifier.ClassifyUncached(a).Name == "Other").GroupBy(a => a).OrderByDescending(g => g.Count()).Take(25))
        {
            output.WriteLine($"Other x{group.Count()}: {group.Key}");
        }

        Assert.True(other <= infos.Count / 50, $"{other} of {infos.Count} user agents unclassified");
    }
}
