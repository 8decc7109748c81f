namespace Candle.Runtime.Plans;

/// <summary>Where a plan buffer's memory comes from.</summary>
public enum BufferKind : byte
{
    /// <summary>A caller's input tensor, read in place.</summary>
    Input,

    /// <summary>A weight bound to the plan, read in place (zero-copy from memory or a mapped file).</summary>
    Weight,

    /// <summary>An intermediate at an offset of the per-call arena, assigned by the memory planner.</summary>
    Arena,

    /// <summary>A graph output, allocated for each call and handed to the caller.</summary>
    Output,
}
