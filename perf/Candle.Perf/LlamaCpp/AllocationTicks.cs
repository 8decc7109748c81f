using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Candle.Perf.LlamaCpp;

/// <summary>Counts the GC's allocation-tick events (one per ~100 KB allocated) by type and heap, for memory diagnostics.</summary>
internal sealed class AllocationTicks : EventListener
{
    private readonly ConcurrentDictionary<string, long> _bytes = new();

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName is not "GCAllocationTick_V4" and not "GCAllocationTick_V3" || e.Payload is null) return;
        int ti = e.PayloadNames!.IndexOf("TypeName");
        int ki = e.PayloadNames.IndexOf("AllocationKind");
        int si = e.PayloadNames.IndexOf("ObjectSize");
        string key = $"{e.Payload[ki]} {e.Payload[ti]} {(si >= 0 ? e.Payload[si] : "")}";
        _bytes.AddOrUpdate(key, 1, (_, v) => v + 1);
    }

    public void Print()
    {
        foreach (var (k, v) in _bytes.OrderByDescending(kv => kv.Value).Take(40)) Console.Error.WriteLine($"{v,6} ticks  {k}");
        foreach (var (k, v) in _bytes.Where(kv => long.TryParse(kv.Key[(kv.Key.LastIndexOf(' ') + 1)..], out long b) && b > 1_000_000)) Console.Error.WriteLine($"{v,6} large  {k}");
    }
}
