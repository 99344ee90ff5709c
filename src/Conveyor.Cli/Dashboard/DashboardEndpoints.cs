using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;

namespace Conveyor.Cli.Dashboard;

/// <summary>
/// Serves the dashboard (docs/REFERENCE.md, "HTTP", <c>GET /</c>) from resources embedded in the executable: no files on disk, no CDN.
/// The page is a static shell that holds no log data; everything it shows comes from <c>/api/pipeline</c> and
/// <c>/api/search</c>, which is where a configured bearer token is enforced (a browser cannot attach an
/// <c>Authorization</c> header to a plain navigation, so the shell asks for the token and sends it on each call).
/// </summary>
internal static class DashboardEndpoints
{
    /// <summary>
    /// Log content is untrusted, so the page may run only its own scripts: no inline script or style, no eval, no
    /// other origins, and it may not be framed. <c>img-src data:</c> is for the theme icons drawn by CSS.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

    private const string ResourcePrefix = "dashboard/";

    private static readonly FrozenDictionary<string, string> ContentTypes = new Dictionary<string, string>
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".svg"] = "image/svg+xml",
        [".png"] = "image/png",
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    /// <summary>Maps <c>GET /</c> (index.html) and one route per embedded asset, e.g. <c>/app.js</c>.</summary>
    public static IEndpointRouteBuilder MapDashboard(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        foreach (var asset in LoadAssets(typeof(DashboardEndpoints).Assembly))
        {
            endpoints.MapGet(asset.Route, asset.WriteAsync).ExcludeFromDescription();
            if (asset.Route == "/index.html")
            {
                endpoints.MapGet("/", asset.WriteAsync).ExcludeFromDescription();
            }
        }

        return endpoints;
    }

    /// <summary>Every resource under <c>dashboard/</c>, read once at start-up (about 100 kB in all).</summary>
    internal static IReadOnlyList<DashboardAsset> LoadAssets(Assembly assembly)
    {
        var assets = new List<DashboardAsset>();
        foreach (var name in assembly.GetManifestResourceNames())
        {
            if (!name.StartsWith(ResourcePrefix, StringComparison.Ordinal))
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var route = "/" + name[ResourcePrefix.Length..].Replace('\\', '/');
            var type = ContentTypes.GetValueOrDefault(Path.GetExtension(route), "text/plain; charset=utf-8");
            assets.Add(new DashboardAsset(route, type, copy.ToArray()));
        }

        return assets;
    }
}

/// <summary>One embedded file with its route, content type and a strong ETag of its bytes.</summary>
internal sealed class DashboardAsset(string route, string contentType, byte[] content)
{
    private readonly string _etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(content).AsSpan(0, 12)) + "\"";

    public string Route { get; } = route;

    public Task WriteAsync(HttpContext context)
    {
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = DashboardEndpoints.ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.XFrameOptions = "DENY";

        // Revalidate every time, so a new binary's page is never mixed with an old cached script; the ETag keeps
        // that to a 304 when nothing changed.
        headers.CacheControl = "no-cache";
        headers.ETag = _etag;
        if (context.Request.Headers.IfNoneMatch == _etag)
        {
            context.Response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }

        context.Response.ContentType = contentType;
        context.Response.ContentLength = content.Length;
        return context.Response.Body.WriteAsync(content).AsTask();
    }
}
