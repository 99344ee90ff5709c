using Conveyor.Logs.Query;
using Conveyor.Logs.Sinks;

namespace Conveyor.Logs.Tests.Support;

/// <summary>One event with OTLP trace context, written through a store's sink and read back by trace and span id.</summary>
internal static class TraceContextCheck
{
    public static async Task WriteAndFindAsync(ILogSink sink, Func<ILogStore> openStore)
    {
        var e = TestEvents.Access("tr", 1);
        e.TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        e.SpanId = "00f067aa0ba902b7";
        e.TraceFlags = 1;
        e.EventName = "http.request";
        await using (sink)
        {
            await sink.WriteBatchAsync([e, TestEvents.Access("tr", 2)], default);
        }

        await using var store = openStore();
        var found = Assert.Single((await store.SearchAsync(new LogQuery("trace_id = " + e.TraceId))).Events);
        Assert.Equal((e.Id, e.TraceId, e.SpanId, e.TraceFlags, e.EventName), (found.Id, found.TraceId, found.SpanId, found.TraceFlags, found.EventName));
        Assert.Equal(1, await store.CountAsync(new LogQuery("span_id = " + e.SpanId)));
    }
}
