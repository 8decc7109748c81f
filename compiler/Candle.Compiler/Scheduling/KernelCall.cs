namespace Candle.Compiler.Scheduling;

/// <summary>
/// One call of a <see cref="KernelGraph"/>: a generated kernel (described by kernel IR), a library kernel with typed
/// arguments, a copy, a fill or a check. Calls name buffers by slot; what a backend does with a call (which kernel,
/// how arguments are passed, how work is split) is the backend's business.
/// </summary>
/// <param name="Label">What the call computes, for dumps and error messages.</param>
internal abstract record KernelCall(string Label)
{
    /// <summary>The buffers the call reads or writes (for lifetimes); -1 entries are absent operands.</summary>
    public abstract IEnumerable<int> Slots { get; }
}
