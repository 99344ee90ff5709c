using System.ComponentModel;
using System.Globalization;
using Conveyor.Logs.Topology;

namespace Conveyor.Cli.Hosting;

/// <summary>
/// Lets config files write durations as people do (<c>250ms</c>, <c>5s</c>, <c>2m</c>, <c>1h</c>) as well as
/// <c>00:00:05</c>. Registered for <see cref="TimeSpan"/> before binding; the binder asks TypeDescriptor for converters.
/// </summary>
internal sealed class DurationConverter : TimeSpanConverter
{
    private static int s_registered;

    public static void Register()
    {
        if (Interlocked.Exchange(ref s_registered, 1) == 0)
        {
            TypeDescriptor.AddAttributes(typeof(TimeSpan), new TypeConverterAttribute(typeof(DurationConverter)));
        }
    }

    public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value) =>
        value is string text && SinkUri.TryParseDuration(text, out var duration)
            ? duration
            : base.ConvertFrom(context, culture, value);
}
