using System.Net;
using Conveyor.Logs.Enrichment;
using Conveyor.Logs.Model;

namespace Conveyor.Logs.Tests.Enrichment;

public sealed class EnricherTests
{
    private static LogEvent Event(long? status = null, string? client = null, string? ua = null)
    {
        var e = new LogEvent("t:1", "t", "line", DateTimeOffset.UnixEpoch);
        if (status is { } s)
        {
            e.Attributes.Set(SemanticNames.HttpResponseStatusCode, s);
        }

        if (client is not null)
        {
            e.Attributes.Set(SemanticNames.ClientAddress, client);
        }

        if (ua is not null)
        {
            e.Attributes.Set(SemanticNames.UserAgentOriginal, ua);
        }

        return e;
    }

    [Theory]
    [InlineData(101, "1xx")]
    [InlineData(200, "2xx")]
    [InlineData(304, "3xx")]
    [InlineData(404, "4xx")]
    [InlineData(599, "5xx")]
    public void StatusClass_KnownStatus_AddsClass(long status, string expected)
    {
        var e = Event(status);
        new StatusClassEnricher().Enrich(e);
        Assert.True(e.Attributes.TryGetString(SemanticNames.HttpResponseStatusClass, out var actual));
        Assert.Equal(expected, actual);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(99L)]
    [InlineData(600L)]
    [InlineData(null)]
    public void StatusClass_OutOfRangeOrMissing_AddsNothing(long? status)
    {
        var e = Event(status);
        new StatusClassEnricher().Enrich(e);
        Assert.False(e.Attributes.Contains(SemanticNames.HttpResponseStatusClass));
    }

    [Theory]
    [InlineData(503, Severity.Error, "ERROR")]
    [InlineData(404, Severity.Warn, "WARN")]
    [InlineData(200, Severity.Info, "INFO")]
    [InlineData(304, Severity.Info, "INFO")]
    public void SeverityFromStatus_NoSeverityYet_DerivesIt(long status, int number, string text)
    {
        var e = Event(status);
        new SeverityFromStatusEnricher().Enrich(e);
        Assert.Equal(number, e.SeverityNumber);
        Assert.Equal(text, e.SeverityText);
    }

    [Fact]
    public void SeverityFromStatus_SeverityAlreadySet_LeavesIt()
    {
        var e = Event(500);
        e.SeverityNumber = Severity.Debug;
        e.SeverityText = "debug";
        new SeverityFromStatusEnricher().Enrich(e);
        Assert.Equal(Severity.Debug, e.SeverityNumber);
        Assert.Equal("debug", e.SeverityText);
    }

    [Theory]
    [InlineData("203.0.113.77", "203.0.113.0")]
    [InlineData("2001:db8:1:2::7", "2001:db8:1::")]
    [InlineData("::ffff:198.51.100.9", "198.51.100.0")]
    [InlineData("::1", "::")]
    public void Anonymize_IpAddress_TruncatesToNetwork(string client, string expected)
    {
        var e = Event(client: client);
        new AnonymizeClientEnricher().Enrich(e);
        Assert.True(e.Attributes.TryGetString(SemanticNames.ClientAddress, out var actual));
        Assert.Equal(expected, actual);
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("unix:")]
    public void Anonymize_NotAnIp_LeavesValue(string client)
    {
        var e = Event(client: client);
        new AnonymizeClientEnricher().Enrich(e);
        Assert.True(e.Attributes.TryGetString(SemanticNames.ClientAddress, out var actual));
        Assert.Equal(client, actual);
    }

    [Fact]
    public void StaticTags_Configured_GoIntoResource()
    {
        var e = Event();
        new StaticTagsEnricher("shop", "prod", "web-1").Enrich(e);
        Assert.Equal(3, e.Resource.Count);
        Assert.True(e.Resource.TryGetString(SemanticNames.ServiceName, out var service));
        Assert.Equal("shop", service);
        Assert.True(e.Resource.TryGetString(SemanticNames.DeploymentEnvironment, out var env));
        Assert.Equal("prod", env);
        Assert.True(e.Resource.TryGetString(SemanticNames.HostName, out var host));
        Assert.Equal("web-1", host);
    }

    [Fact]
    public void Create_DefaultOptions_StatusClassSeverityAndUserAgentOnly()
    {
        using var chain = EnricherChain.Create(new EnricherOptions());
        Assert.Collection(
            chain.Enrichers,
            e => Assert.IsType<StatusClassEnricher>(e),
            e => Assert.IsType<SeverityFromStatusEnricher>(e),
            e => Assert.IsType<UserAgentEnricher>(e));
    }

    [Fact]
    public void GeoIp_SelfWrittenDatabase_AddsCountryAndCity()
    {
        using var db = GeoDatabase();
        using var geo = new GeoIpEnricher(db.Path);

        var london = Event(client: "81.2.69.142");
        geo.Enrich(london);
        Assert.True(london.Attributes.TryGetString(SemanticNames.ClientGeoCountryIsoCode, out var country));
        Assert.Equal("GB", country);
        Assert.True(london.Attributes.TryGetString(SemanticNames.ClientGeoCityName, out var city));
        Assert.Equal("London", city);

        var v6 = Event(client: "2001:db8::1");
        geo.Enrich(v6);
        Assert.True(v6.Attributes.TryGetString(SemanticNames.ClientGeoCountryIsoCode, out var country6));
        Assert.Equal("DE", country6);
        Assert.False(v6.Attributes.Contains(SemanticNames.ClientGeoCityName));

        foreach (var client in new[] { "8.8.8.8", "localhost", "unix:" })
        {
            var other = Event(client: client);
            geo.Enrich(other);
            Assert.False(other.Attributes.Contains(SemanticNames.ClientGeoCountryIsoCode));
        }
    }

    [Fact]
    public void Chain_GeoIpAndAnonymize_LooksUpTheFullAddressThenTruncates()
    {
        using var db = GeoDatabase();
        using var chain = EnricherChain.Create(new EnricherOptions { GeoIpDatabase = db.Path, AnonymizeClient = true, ServiceName = "edge" });
        var e = Event(200, "81.2.69.142", "curl/8.5.0");
        chain.Apply(e);
        var a = e.Attributes;
        Assert.True(a.TryGetString(SemanticNames.ClientGeoCityName, out var city));
        Assert.Equal("London", city);
        Assert.True(a.TryGetString(SemanticNames.ClientAddress, out var client));
        Assert.Equal("81.2.69.0", client);
        Assert.True(a.TryGetString(SemanticNames.HttpResponseStatusClass, out var cls));
        Assert.Equal("2xx", cls);
        Assert.True(a.TryGetValue(SemanticNames.UserAgentIsBot, out var bot));
        Assert.Equal(true, bot);
        Assert.Equal("INFO", e.SeverityText);
        Assert.True(e.Resource.TryGetString(SemanticNames.ServiceName, out var service));
        Assert.Equal("edge", service);
    }

    [Fact]
    public void GeoIp_NotAMaxMindFile_ThrowsArgumentExceptionNamingThePath()
    {
        var path = Path.Combine(Path.GetTempPath(), "conveyor-not-mmdb-" + Guid.NewGuid().ToString("N") + ".mmdb");
        File.WriteAllText(path, "not a database");
        try
        {
            var ex = Assert.Throws<ArgumentException>(() => new GeoIpEnricher(path));
            Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static TempFile GeoDatabase()
    {
        using var writer = new MaxMindDbWriter();
        writer.Insert(IPAddress.Parse("81.2.69.0"), 24, new()
        {
            ["country"] = new Dictionary<string, object> { ["iso_code"] = "GB" },
            ["city"] = new Dictionary<string, object> { ["names"] = new Dictionary<string, object> { ["en"] = "London" } },
        });
        writer.Insert(IPAddress.Parse("2001:db8::"), 32, new()
        {
            ["country"] = new Dictionary<string, object> { ["iso_code"] = "DE" },
        });
        var file = new TempFile();
        File.WriteAllBytes(file.Path, writer.Build());
        return file;
    }

    private sealed class TempFile : IDisposable
    {
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "conveyor-geo-" + Guid.NewGuid().ToString("N") + ".mmdb");

        public void Dispose() => File.Delete(Path);
    }
}
