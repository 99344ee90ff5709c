using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Conveyor.Logs.Enrichment;

/// <summary>What <see cref="UserAgentClassifier"/> makes of a user-agent string.</summary>
/// <param name="Name">Browser, bot or client library, e.g. <c>Chrome</c>, <c>Googlebot</c>, <c>curl</c>; <c>Other</c> when unknown.</param>
/// <param name="Version">The version as written, or null.</param>
/// <param name="OsName">e.g. <c>Windows</c>, <c>iOS</c>; null when unknown.</param>
/// <param name="DeviceType"><c>desktop</c>, <c>mobile</c>, <c>tablet</c>, <c>bot</c> or <c>other</c>.</param>
/// <param name="IsBot">True for crawlers, monitors and HTTP libraries.</param>
public sealed record UserAgentInfo(string Name, string? Version, string? OsName, string DeviceType, bool IsBot);

/// <summary>
/// A compact, table-driven user-agent classifier: ordered rules, first match wins, for bots and libraries, then
/// browsers (most specific first, since Edge and Opera also say Chrome, and Chrome also says Safari), then OS and device.
/// Results are cached per string; the cache is bounded by clearing it when full, which keeps memory fixed under a flood
/// of unique strings at the price of re-classifying afterwards.
/// </summary>
public sealed class UserAgentClassifier(int cacheSize = 10_000)
{
    /// <summary>Bots and libraries: a substring (ordinal, case-insensitive) and the name to report.</summary>
    private static readonly (string Token, string Name)[] Bots =
    [
        ("Googlebot", "Googlebot"), ("AdsBot-Google", "AdsBot-Google"), ("Mediapartners-Google", "Mediapartners-Google"),
        ("bingbot", "bingbot"), ("msnbot", "msnbot"), ("BingPreview", "BingPreview"), ("Baiduspider", "Baiduspider"),
        ("YandexBot", "YandexBot"), ("YandexImages", "YandexImages"), ("DuckDuckBot", "DuckDuckBot"), ("Yahoo! Slurp", "Yahoo! Slurp"),
        ("facebookexternalhit", "facebookexternalhit"), ("Facebot", "Facebot"), ("Twitterbot", "Twitterbot"),
        ("AhrefsBot", "AhrefsBot"), ("SemrushBot", "SemrushBot"), ("MJ12bot", "MJ12bot"), ("DotBot", "DotBot"),
        ("PetalBot", "PetalBot"), ("Applebot", "Applebot"), ("Pingdom", "Pingdom"), ("UptimeRobot", "UptimeRobot"),
        ("Amazon CloudFront", "Amazon CloudFront"), ("HeadlessChrome", "HeadlessChrome"), ("curl/", "curl"), ("Wget/", "Wget"),
        ("python-requests/", "python-requests"), ("Python-urllib/", "Python-urllib"), ("aiohttp/", "aiohttp"),
        ("Go-http-client/", "Go-http-client"), ("okhttp/", "okhttp"), ("Apache-HttpClient/", "Apache-HttpClient"),
        ("Java/", "Java"), ("libwww-perl/", "libwww-perl"), ("Scrapy/", "Scrapy"), ("node-fetch", "node-fetch"),
        ("axios/", "axios"), ("PostmanRuntime/", "PostmanRuntime"), ("Ruby", "Ruby"), ("PHP/", "PHP"),
        ("gPXE/", "gPXE"), ("Feedly", "Feedly"), ("Feedfetcher-Google", "Feedfetcher-Google"),
    ];

    /// <summary>Generic markers of automated clients, tried after <see cref="Bots"/>.</summary>
    private static readonly string[] BotMarkers = ["bot", "spider", "crawl", "slurp", "fetch", "monitor", "scan", "check", "feed", "rss", "nutch", "validator", "sleuth", "scout", "embed", "preview", "archiver"];

    /// <summary>
    /// Contact details in a user agent (a URL or an e-mail address) mark automated clients, which name themselves so
    /// site owners can reach them; browsers do not.
    /// </summary>
    private static readonly string[] ContactMarkers = ["http://", "https://", "www.", "@"];

    /// <summary>Browsers: the token whose version follows (e.g. <c>Chrome/</c>), most specific first.</summary>
    private static readonly (string Token, string Name)[] Browsers =
    [
        ("Edg/", "Edge"), ("Edge/", "Edge"), ("EdgA/", "Edge"), ("EdgiOS/", "Edge"), ("OPR/", "Opera"), ("Opera/", "Opera"),
        ("SamsungBrowser/", "Samsung Internet"), ("YaBrowser/", "Yandex Browser"), ("UCBrowser/", "UC Browser"),
        ("Vivaldi/", "Vivaldi"), ("FxiOS/", "Firefox"), ("Firefox/", "Firefox"), ("CriOS/", "Chrome"), ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"), ("MSIE ", "Internet Explorer"), ("Trident/", "Internet Explorer"), ("Version/", "Safari"),
        ("Safari/", "Safari"), ("Epiphany/", "Epiphany"), ("conkeror/", "Conkeror"), ("SeaMonkey/", "SeaMonkey"),
        ("Lynx/", "Lynx"), ("Links (", "Links"), ("w3m/", "w3m"), ("Opera Mini/", "Opera Mini"), ("UP.Browser/", "Openwave"),
        ("Dalvik/", "Dalvik"), ("CFNetwork/", "CFNetwork"), ("AppleWebKit/", "WebKit"), ("Gecko/", "Gecko"),
    ];

    /// <summary>Operating systems: a substring and the name, most specific first.</summary>
    private static readonly (string Token, string Name)[] Systems =
    [
        ("Windows Phone", "Windows Phone"), ("Windows", "Windows"), ("iPhone", "iOS"), ("iPad", "iOS"), ("iPod", "iOS"),
        ("Mac OS X", "macOS"), ("Macintosh", "macOS"), ("Android", "Android"), ("CrOS", "Chrome OS"), ("Ubuntu", "Linux"),
        ("Linux", "Linux"), ("FreeBSD", "FreeBSD"), ("OpenBSD", "OpenBSD"),
    ];

    private readonly ConcurrentDictionary<string, UserAgentInfo> _cache = new(StringComparer.Ordinal);

    // In front of the dictionary, keyed by the string object rather than its characters: the access-log parser hands
    // out one shared string per repeated user agent, so most lines find theirs here without hashing ~120 characters.
    // A slot holds an immutable pair and a reference write is atomic: workers share it without locks, a race costs a miss.
    private readonly Known?[] _recent = new Known?[256];

    /// <summary>Classifies <paramref name="userAgent"/>, from the cache when it was seen before.</summary>
    public UserAgentInfo Classify(string userAgent)
    {
        ArgumentNullException.ThrowIfNull(userAgent);
        ref var slot = ref _recent[RuntimeHelpers.GetHashCode(userAgent) & (_recent.Length - 1)];
        if (Volatile.Read(ref slot) is { } known && ReferenceEquals(known.UserAgent, userAgent))
        {
            return known.Info;
        }

        if (_cache.TryGetValue(userAgent, out var info))
        {
            Volatile.Write(ref slot, new Known(userAgent, info));
            return info;
        }

        info = ClassifyUncached(userAgent);
        if (_cache.Count >= cacheSize)
        {
            _cache.Clear();
        }

        _cache.TryAdd(userAgent, info);
        Volatile.Write(ref slot, new Known(userAgent, info));
        return info;
    }

    /// <summary>Classifies without the cache.</summary>
    public static UserAgentInfo ClassifyUncached(string ua)
    {
        ArgumentNullException.ThrowIfNull(ua);
        var os = FirstMatch(ua, Systems);
        foreach (var (token, name) in Bots)
        {
            var at = ua.IndexOf(token, StringComparison.OrdinalIgnoreCase);
            if (at >= 0)
            {
                return new UserAgentInfo(name, VersionAfter(ua, at + token.Length, token.EndsWith('/') ? 0 : 1), os, "bot", true);
            }
        }

        foreach (var marker in BotMarkers)
        {
            var at = ua.IndexOf(marker, StringComparison.OrdinalIgnoreCase);
            if (at >= 0)
            {
                var (name, version) = ProductAround(ua, at);
                return new UserAgentInfo(name, version, os, "bot", true);
            }
        }

        foreach (var marker in ContactMarkers)
        {
            if (ua.Contains(marker, StringComparison.Ordinal))
            {
                var (name, version) = FirstProduct(ua);
                return new UserAgentInfo(name, version, os, "bot", true);
            }
        }

        foreach (var (token, name) in Browsers)
        {
            var at = ua.IndexOf(token, StringComparison.Ordinal);
            if (at < 0 || (name == "Safari" && token == "Version/" && !ua.Contains("Safari/", StringComparison.Ordinal)))
            {
                continue;
            }

            var version = token == "Trident/" ? TridentVersion(ua, at + token.Length) : VersionAfter(ua, at + token.Length, 0);
            return new UserAgentInfo(name, version, os, DeviceOf(ua, os), false);
        }

        return new UserAgentInfo("Other", null, os, os is null ? "other" : DeviceOf(ua, os), false);
    }

    private static string? FirstMatch(string ua, (string Token, string Name)[] table)
    {
        foreach (var (token, name) in table)
        {
            if (ua.Contains(token, StringComparison.Ordinal))
            {
                return name;
            }
        }

        return null;
    }

    private static string DeviceOf(string ua, string? os)
    {
        if (ua.Contains("iPad", StringComparison.Ordinal) || ua.Contains("Tablet", StringComparison.Ordinal)
            || (os == "Android" && !ua.Contains("Mobile", StringComparison.Ordinal)))
        {
            return "tablet";
        }

        if (ua.Contains("Mobi", StringComparison.Ordinal) || ua.Contains("MIDP", StringComparison.Ordinal) || os is "iOS" or "Android" or "Windows Phone")
        {
            return "mobile";
        }

        return os is "Windows" or "macOS" or "Linux" or "Chrome OS" or "FreeBSD" or "OpenBSD" ? "desktop" : "other";
    }

    /// <summary>The version starting at <paramref name="at"/> after skipping <paramref name="skip"/> separator chars: digits and dots.</summary>
    private static string? VersionAfter(string ua, int at, int skip)
    {
        at += skip;
        if (skip > 0 && at - 1 < ua.Length && at - 1 >= 0 && ua[at - 1] is not ('/' or ' '))
        {
            return null;
        }

        var end = at;
        while (end < ua.Length && (char.IsAsciiDigit(ua[end]) || ua[end] == '.'))
        {
            end++;
        }

        return end > at ? ua[at..end].TrimEnd('.') : null;
    }

    /// <summary>Trident/7.0 is IE 11, Trident/6.0 IE 10, and so on down to Trident/4.0 (IE 8).</summary>
    private static string? TridentVersion(string ua, int at) =>
        at < ua.Length && char.IsAsciiDigit(ua[at]) ? (ua[at] - '0' + 4).ToString(System.Globalization.CultureInfo.InvariantCulture) + ".0" : null;

    /// <summary>The product word around a generic bot marker, e.g. <c>SeznamBot/3.2</c> → (SeznamBot, 3.2).</summary>
    private static (string Name, string? Version) ProductAround(string ua, int at)
    {
        var start = at;
        while (start > 0 && IsWordChar(ua[start - 1]))
        {
            start--;
        }

        var end = at;
        while (end < ua.Length && IsWordChar(ua[end]))
        {
            end++;
        }

        var version = end < ua.Length && ua[end] == '/' ? VersionAfter(ua, end + 1, 0) : null;
        return (ua[start..end], version);
    }

    /// <summary>The product a client names first: after <c>compatible;</c> in a Mozilla-style string, else the leading word.</summary>
    private static (string Name, string? Version) FirstProduct(string ua)
    {
        var start = 0;
        var compatible = ua.IndexOf("compatible; ", StringComparison.Ordinal);
        if (compatible >= 0)
        {
            start = compatible + "compatible; ".Length;
        }

        var end = start;
        while (end < ua.Length && ua[end] is not ('/' or ';' or '(' or ')') && !(ua[end] == ' ' && end + 1 < ua.Length && ua[end + 1] is '(' or '+' or '-'))
        {
            end++;
        }

        var name = ua[start..end].Trim();
        var version = end < ua.Length && ua[end] == '/' ? VersionAfter(ua, end + 1, 0) : null;
        return (name.Length > 0 ? name : "Other bot", version);
    }

    private static bool IsWordChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.';

    private sealed record Known(string UserAgent, UserAgentInfo Info);
}
