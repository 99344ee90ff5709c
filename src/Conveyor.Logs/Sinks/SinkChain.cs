using Conveyor.Logs.Sinks.Slow;

namespace Conveyor.Logs.Sinks;

/// <summary>Finds what a sink is behind its wrappers (<see cref="SlowSink"/>, <see cref="ResilientSink"/>).</summary>
public static class SinkChain
{
    /// <summary>The first sink in the chain from <paramref name="sink"/> inwards that is a <typeparamref name="T"/>, or null.</summary>
    public static T? Find<T>(ILogSink sink)
        where T : class
    {
        for (ILogSink? s = sink; s is not null; s = s switch { SlowSink slow => slow.Inner, ResilientSink r => r.Inner, _ => null })
        {
            if (s is T found)
            {
                return found;
            }
        }

        return null;
    }
}
