using System.Globalization;
using System.Text;

namespace Conveyor.Cli.Generation;

/// <summary>
/// One simulated web server writing realistic access logs: a pool of clients (IPv4 and IPv6) with their own user
/// agents, paths with query strings, status codes and sizes in plausible proportions, referers, and timestamps of
/// now. Each <see cref="LineGenerator"/> is one server and is not thread-safe.
/// </summary>
internal sealed class LineGenerator
{
    /// <summary>The formats <c>conveyor gen --format</c> accepts.</summary>
    public static readonly IReadOnlyList<string> Formats = ["combined", "common", "json", "logfmt", "syslog5424", "syslog3164"];

    private static readonly string[] Paths =
    [
        "/", "/index.html", "/products", "/products/42", "/products/1337?ref=home", "/cart", "/checkout", "/api/v1/users/17",
        "/api/v1/orders?page=2&size=50", "/search?q=red+shoes", "/static/app.3f9a1c.js", "/static/site.css", "/favicon.ico",
        "/images/hero.webp", "/login", "/logout", "/account/settings", "/blog/2026/11/back-pressure", "/healthz", "/robots.txt",
        "/wp-login.php", "/.env", "/api/v1/search?q=%E2%9C%93&lang=de",
    ];

    private static readonly string[] Agents =
    [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "curl/8.5.0",
        "python-requests/2.32.3",
        "Go-http-client/2.0",
    ];

    private static readonly string[] Referers =
    [
        "-", "-", "-", "https://www.google.com/", "https://duckduckgo.com/", "https://shop.example.com/products",
        "https://news.ycombinator.com/item?id=42424242", "https://t.co/xyz",
    ];

    private static readonly string[] Users = ["-", "-", "-", "-", "-", "-", "alice", "bob"];

    private static readonly string[] Methods = ["GET", "GET", "GET", "GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "HEAD"];

    private readonly Random _random;
    private readonly string _format;
    private readonly string _host;
    private readonly (string Address, string Agent)[] _clients;
    private readonly StringBuilder _sb = new(512);
    private long _sequence;

    public LineGenerator(string format, int server, int seed)
    {
        _format = format;
        _host = "web-" + (server + 1).ToString(CultureInfo.InvariantCulture);
        _random = new Random(seed);
        _clients = new (string, string)[500];
        for (var i = 0; i < _clients.Length; i++)
        {
            var address = _random.Next(8) == 0
                ? $"2001:db8:{_random.Next(0x10000):x}:{_random.Next(0x10000):x}::{_random.Next(1, 0x10000):x}"
                : $"{_random.Next(1, 224)}.{_random.Next(256)}.{_random.Next(256)}.{_random.Next(1, 255)}";
            _clients[i] = (address, Agents[_random.Next(Agents.Length)]);
        }
    }

    /// <summary>The next line, without a terminator, stamped with <paramref name="now"/>.</summary>
    public string Next(DateTimeOffset now)
    {
        _sequence++;
        var (client, agent) = _clients[(int)Math.Min(_clients.Length - 1, Math.Abs(NextGaussian() * _clients.Length / 4))];
        var path = Paths[_random.Next(Paths.Length)];
        var method = Methods[_random.Next(Methods.Length)];
        var status = NextStatus(path);
        var size = status is 204 or 304 ? 0 : _random.Next(120, 80_000);
        var referer = Referers[_random.Next(Referers.Length)];
        var user = Users[_random.Next(Users.Length)];
        var ms = _random.Next(1, 900);
        _sb.Clear();
        var inv = CultureInfo.InvariantCulture;
        switch (_format)
        {
            case "combined":
            case "common":
                _sb.Append(client).Append(" - ").Append(user).Append(" [")
                   .Append(now.ToString("dd/MMM/yyyy:HH:mm:ss zzz", inv).Remove(now.ToString("dd/MMM/yyyy:HH:mm:ss zzz", inv).Length - 3, 1))
                   .Append("] \"").Append(method).Append(' ').Append(path).Append(" HTTP/1.1\" ")
                   .Append(status.ToString(inv)).Append(' ').Append(size == 0 ? "-" : size.ToString(inv));
                if (_format == "combined")
                {
                    _sb.Append(" \"").Append(referer).Append("\" \"").Append(agent).Append('"');
                }

                break;
            case "json":
                _sb.Append("{\"timestamp\":\"").Append(now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", inv))
                   .Append("\",\"level\":\"").Append(status >= 500 ? "error" : status >= 400 ? "warn" : "info")
                   .Append("\",\"message\":\"").Append(method).Append(' ').Append(path).Append(' ').Append(status.ToString(inv))
                   .Append("\",\"client\":{\"ip\":\"").Append(client).Append("\"},\"http\":{\"method\":\"").Append(method)
                   .Append("\",\"status\":").Append(status.ToString(inv)).Append(",\"bytes\":").Append(size.ToString(inv))
                   .Append("},\"duration_ms\":").Append(ms.ToString(inv)).Append(",\"host\":\"").Append(_host).Append("\"}");
                break;
            case "logfmt":
                _sb.Append("ts=").Append(now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", inv))
                   .Append(" level=").Append(status >= 500 ? "error" : status >= 400 ? "warn" : "info")
                   .Append(" msg=\"").Append(method).Append(' ').Append(path).Append("\" status=").Append(status.ToString(inv))
                   .Append(" client=").Append(client).Append(" bytes=").Append(size.ToString(inv))
                   .Append(" duration_ms=").Append(ms.ToString(inv)).Append(" host=").Append(_host);
                break;
            case "syslog5424":
                _sb.Append('<').Append(Pri(status).ToString(inv)).Append(">1 ")
                   .Append(now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", inv)).Append(' ').Append(_host)
                   .Append(" nginx ").Append((1000 + (_sequence % 8)).ToString(inv)).Append(" ACCESS [req@32473 status=\"")
                   .Append(status.ToString(inv)).Append("\" client=\"").Append(client).Append("\"] ")
                   .Append(method).Append(' ').Append(path).Append(' ').Append(status.ToString(inv));
                break;
            default:
                _sb.Append('<').Append(Pri(status).ToString(inv)).Append('>')
                   .Append(now.ToString("MMM", inv)).Append(' ').Append(now.Day.ToString(inv).PadLeft(2))
                   .Append(now.ToString(" HH:mm:ss ", inv)).Append(_host).Append(" nginx[")
                   .Append((1000 + (_sequence % 8)).ToString(inv)).Append("]: ").Append(client).Append(' ')
                   .Append(method).Append(' ').Append(path).Append(' ').Append(status.ToString(inv));
                break;
        }

        return _sb.ToString();
    }

    private static int Pri(int status) => (16 * 8) + (status >= 500 ? 3 : status >= 400 ? 4 : 6);

    private int NextStatus(string path)
    {
        if (path is "/wp-login.php" or "/.env")
        {
            return 404;
        }

        var roll = _random.Next(1000);
        return roll switch
        {
            < 780 => 200,
            < 820 => 304,
            < 840 => 301,
            < 850 => 204,
            < 930 => 404,
            < 950 => 403,
            < 960 => 429,
            < 990 => 500,
            _ => 503,
        };
    }

    private double NextGaussian()
    {
        var u1 = 1.0 - _random.NextDouble();
        var u2 = _random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
