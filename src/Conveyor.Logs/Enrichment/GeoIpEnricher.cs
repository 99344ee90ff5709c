using System.Net;
using Conveyor.Logs.Model;
using MaxMind.Db;

namespace Conveyor.Logs.Enrichment;

/// <summary>
/// Looks <c>client.address</c> up in a user-supplied MaxMind database (GeoIP2/GeoLite2 City or Country layout) and
/// adds <c>client.geo.country_iso_code</c> and <c>client.geo.city_name</c> (the English name) when the record has them.
/// </summary>
public sealed class GeoIpEnricher : ILogEnricher, IDisposable
{
    private readonly Reader _reader;

    /// <summary>Opens <paramref name="path"/> memory-mapped.</summary>
    /// <exception cref="ArgumentException">The file is missing or not a MaxMind DB.</exception>
    public GeoIpEnricher(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            _reader = new Reader(path, FileAccessMode.MemoryMapped);
        }
        catch (Exception ex) when (ex is IOException or InvalidDatabaseException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"geoip database '{path}' cannot be opened: {ex.Message}", nameof(path), ex);
        }
    }

    /// <inheritdoc />
    public void Enrich(LogEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (!e.Attributes.TryGetString(SemanticNames.ClientAddress, out var text) || !IPAddress.TryParse(text, out var ip))
        {
            return;
        }

        Dictionary<string, object>? record;
        try
        {
            record = _reader.Find<Dictionary<string, object>>(ip);
        }
        catch (Exception ex) when (ex is InvalidDatabaseException or ArgumentException)
        {
            // A corrupt record, or an IPv6 client against an IPv4-only database, must not stop the pipeline:
            // the event simply stays without geo attributes.
            return;
        }

        if (record is null)
        {
            return;
        }

        if (Lookup(record, "country", "iso_code") is string iso)
        {
            e.Attributes.Set(SemanticNames.ClientGeoCountryIsoCode, iso);
        }

        if (Lookup(record, "city", "names") is IDictionary<string, object> names && names.TryGetValue("en", out var city) && city is string cityName)
        {
            e.Attributes.Set(SemanticNames.ClientGeoCityName, cityName);
        }
    }

    private static object? Lookup(Dictionary<string, object> record, string outer, string inner) =>
        record.TryGetValue(outer, out var o) && o is IDictionary<string, object> map && map.TryGetValue(inner, out var v) ? v : null;

    /// <inheritdoc />
    public void Dispose() => _reader.Dispose();
}
