using Conveyor.Logs.Amqp;

namespace Conveyor.Logs.Tests.Amqp;

public sealed class AmqpSettingsTests
{
    [Fact]
    public void Parse_NoQuery_Defaults()
    {
        var s = AmqpSettings.Parse("amqp://guest:guest@127.0.0.1:5672/");
        Assert.Equal(("conveyor", AmqpQueueType.Quorum, AmqpRecordFormat.Events, 500, 64, (ushort)20, 20), (s.Queue, s.QueueType, s.Format, s.BatchSize, s.Window, s.Prefetch, s.DeliveryLimit));
        Assert.Equal("conveyor.dead", s.DeadLetterName);
        Assert.Equal(string.Empty, s.Broker.Query);
    }

    [Fact]
    public void Parse_Query_EveryKeyRead()
    {
        var s = AmqpSettings.Parse("amqp://u:p@broker:5673/logs?queue=edge1&type=stream&format=raw&batch=200&window=8&prefetch=4&deliveryLimit=3&offset=next");
        Assert.Equal(("edge1", AmqpQueueType.Stream, AmqpRecordFormat.Raw, 200, 8, (ushort)4, 3, "next"), (s.Queue, s.QueueType, s.Format, s.BatchSize, s.Window, s.Prefetch, s.DeliveryLimit, s.StreamOffset));
        Assert.Equal("amqp://u:p@broker:5673/logs", s.Broker.ToString());
    }

    [Theory]
    [InlineData("amqp://h/?batch=0", "batch: must be 1-100000 (was '0')")]
    [InlineData("amqp://h/?window=x", "window: must be 1-10000 (was 'x')")]
    [InlineData("amqp://h/?type=classic", "type: must be quorum or stream (was 'classic')")]
    [InlineData("amqp://h/?queue=x.dead", "queue: must be 1-200 characters")]
    [InlineData("amqp://h/?qeue=x", "unknown query key 'qeue'")]
    [InlineData("http://h/", "expected amqp://USER:PASS@HOST:PORT")]
    public void Check_Invalid_NamesTheKeyAndReason(string uri, string expected)
    {
        Assert.Contains(expected, AmqpSettings.Check(uri), StringComparison.Ordinal);
    }

    [Fact]
    public void Display_MasksThePassword()
    {
        var s = AmqpSettings.Parse("amqp://edge:s3cret@10.0.0.5:5672/?queue=q");
        Assert.DoesNotContain("s3cret", s.Display, StringComparison.Ordinal);
        Assert.Contains("edge:***@10.0.0.5:5672", s.Display, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", AmqpSettings.Check("amqp://edge:s3cret@/x") ?? "-", StringComparison.Ordinal);
    }
}
