using System.ComponentModel;
using System.Globalization;

namespace Conveyor.Logs.Configuration;

/// <summary>
/// Lets config files write durations as people do (<c>250ms</c>, <c>5s</c>, <c>2m</c>, <c>1h</c>) as well as
/// <c>00:00:05</c>. Registered for <see cref="TimeSpan"/> before binding; the binder asks TypeDescriptor for converters.
/// </summary>
public sealed class DurationConverter : TimeSpanConverter
{
    private static int s_registered;

    /// <summary>Registers the converter for <see cref="TimeSpan"/>, once per process.</summary>
    public static void Register()
    {
        if (Interlocked.Exchange(ref s_registered, 1) == 0)
        {
            TypeDescriptor.AddAttributes(typeof(TimeSpan), new TypeConverterAttribute(typeof(DurationConverter)));
        }
    }

    /// <inheritdoc />
    public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value) =>
        value is string text && Durations.TryParse(text, out var duration)
            ? duration
            : base.ConvertFrom(context, culture, value);
}
