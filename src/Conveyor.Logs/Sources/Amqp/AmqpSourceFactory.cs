using Conveyor.Logs.Configuration;

namespace Conveyor.Logs.Sources.Amqp;

/// <summary><c>amqp://USER:PASS@H:P[/VHOST][?queue=NAME…]</c> (also <c>amqps://</c>): an <see cref="AmqpSource"/>, a worker.</summary>
public static class AmqpSourceFactory
{
    /// <summary>The registration in <see cref="SourceRegistry"/>; its records are read by an <see cref="AmqpRecordParser"/>.</summary>
    public static SourceRegistration Registration { get; } =
        new(SourceType.Amqp, "amqp", "amqp://USER:PASS@H:P[/VHOST][?queue=NAME]", Create) { Aliases = ["amqps"], Parser = static p => new AmqpRecordParser(p) };

    private static AmqpSource Create(SourceContext c) => new(c.Options, c.Info, c.Output, c.Logger, c.Time);
}
