using Conveyor.Logs.Amqp;

namespace Conveyor.Logs.Sinks.Amqp;

/// <summary><c>amqp://USER:PASS@H:P[/VHOST][?queue=NAME…]</c> (also <c>amqps://</c>): an <see cref="AmqpSink"/> (an edge), with retry.</summary>
public static class AmqpSinkFactory
{
    /// <summary>The registration in <see cref="SinkRegistry"/>.</summary>
    public static SinkRegistration Registration { get; } =
        new("amqp", ["amqp://USER:PASS@H:P[/VHOST][?queue=NAME]"], static (_, uri) => AmqpSettings.Check(uri), OpenAsync) { Aliases = ["amqps"] };

    private static async ValueTask<ILogSink> OpenAsync(string remainder, string uri, SinkContext context, CancellationToken cancellationToken) =>
        context.Resilient(await AmqpSink.OpenAsync(AmqpSettings.Parse(uri), cancellationToken: cancellationToken).ConfigureAwait(false));
}
