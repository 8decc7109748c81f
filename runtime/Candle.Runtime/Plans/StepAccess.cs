using Candle.Runtime.Kernels.Cpu;
using Candle.Runtime.Kernels.Cpu.Args;
using Candle.Runtime.Kernels.Cpu.Ops;

namespace Candle.Runtime.Plans;

/// <summary>
/// The memory a runtime kernel step reads and writes, computed from its bound arguments: once per symbol binding (not
/// per element), each slot the step names must be a buffer of the plan, every strided extent it touches must lie
/// inside that buffer's bytes and no weight may be written. Each kernel's argument record (<c>Kernels/Cpu/Args</c>)
/// decodes and range-checks the step's arguments and lists the extents; generated kernels' layouts come from their
/// specifications in the plan's kernel listing (<see cref="GeneratedLayout"/>).
/// </summary>
internal static class StepAccess
{
    /// <summary>
    /// Checks step <paramref name="s"/> with bound <paramref name="args"/> against the bound buffer sizes; returns the
    /// problem (naming the step) or null. The plan raises it when the step is reached, so that checks of earlier steps
    /// (a slice's range check) report first.
    /// </summary>
    public static string? Problem(
        PlanStep step, int s, long[] args, long[] bytes, long work, IReadOnlyList<PlanBuffer> buffers, IReadOnlyDictionary<string, GeneratedLayout> generated) =>
        Decoded(step, s, args, work, buffers, generated).Problem(step, s, bytes, buffers);

    /// <summary>
    /// What step <paramref name="s"/> touches with bound <paramref name="args"/>, before any buffer size is known: its
    /// extents, or the problem of its arguments themselves (a negative work count, a record that does not decode), and
    /// whether a generated kernel writes a weight. It depends on the arguments and the work count alone, so a binding
    /// whose step has the arguments of an earlier binding's reuses it (<see cref="StepAccessMemo"/>).
    /// </summary>
    public static StepAccesses Decoded(
        PlanStep step, int s, long[] args, long work, IReadOnlyList<PlanBuffer> buffers, IReadOnlyDictionary<string, GeneratedLayout> generated)
    {
        try
        {
            if (work < 0) throw Bad(step, s, $"negative work count {work}");
            var extents = Record(step, s, args, work, generated) ?? throw Bad(step, s, "the kernel has no argument record");
            string? late = null;
            try
            {
                WritesNoWeight(step, s, args, buffers);
            }
            catch (PlanFormatException e)
            {
                late = e.Message;
            }

            return new StepAccesses([.. extents], null, late);
        }
        catch (PlanFormatException e)
        {
            return new StepAccesses(null, e.Message, null);
        }
    }

    /// <summary>The first extent of <paramref name="extents"/> that leaves its buffer of the bound sizes (or writes a weight), as a problem naming the step; null when none does.</summary>
    public static string? Outside(PlanStep step, int s, StepExtent[] extents, long[] bytes, IReadOnlyList<PlanBuffer> buffers)
    {
        try
        {
            foreach (var e in extents) Within(step, s, e, bytes, buffers);
            return null;
        }
        catch (PlanFormatException e)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// The extents of a step's kernel through its argument record, decoded and checked; null for a kernel without one.
    /// Problems of the record are raised without the step's name (the caller adds it).
    /// </summary>
    private static IEnumerable<StepExtent>? Record(PlanStep step, int s, long[] a, long work, IReadOnlyDictionary<string, GeneratedLayout> generated)
    {
        string kernel = step.Kernel;
        int at = kernel.IndexOf('@', StringComparison.Ordinal);
        string main = at < 0 ? kernel : kernel[..at];
        try
        {
            switch (main)
            {
                case RmsNormArgs.Kernel: return RmsNormArgs.Accesses(RmsNormArgs.Decode(a), work).ToList();
                case LayerNormArgs.Kernel: return LayerNormArgs.Accesses(LayerNormArgs.Decode(a), work).ToList();
                case IndexSelectArgs.Kernel: return IndexSelectArgs.Accesses(IndexSelectArgs.Decode(a), work).ToList();
                case QuantMatMulArgs.Kernel when at < 0: return QuantMatMulArgs.Accesses(QuantMatMulArgs.Decode(a), work).ToList();
                case QuantMatMulArgs.Kernel:
                {
                    var q = QuantMatMulArgs.DecodeWithEpilogue(a);
                    var epi = QuantMatMulArgs.Epilogue(a);
                    var items = StepExtent.Mul(q.Rows, q.N);
                    var extents = kernel[(at + 1)..] == InterpretedArgs.Kernel
                        ? InterpretedArgs.Accesses(epi, items)
                        : GeneratedArgs.Accesses(Layout(kernel[(at + 1)..], generated), epi, items);
                    return QuantMatMulArgs.Accesses(q, work, extents.ToList(), QuantMatMulArgs.Product(a)).ToList();
                }

                case QuantEmbeddingArgs.Kernel: return QuantEmbeddingArgs.Accesses(QuantEmbeddingArgs.Decode(a), work).ToList();
                case GroupNormArgs.Kernel: return GroupNormArgs.Accesses(GroupNormArgs.Decode(a), work).ToList();
                case SoftmaxArgs.Kernel or SoftmaxArgs.LogKernel: return SoftmaxArgs.Accesses(SoftmaxArgs.Decode(a), work).ToList();
                case ReduceArgs.Kernel: return ReduceArgs.Accesses(ReduceArgs.Decode(a), work).ToList();
                case CumSumArgs.Kernel: return CumSumArgs.Accesses(CumSumArgs.Decode(a), work).ToList();
                case RopeArgs.Kernel: return RopeArgs.Accesses(RopeArgs.Decode(a), work).ToList();
                case AttentionArgs.Kernel: return AttentionArgs.Accesses(AttentionArgs.Decode(a), work).ToList();
                case FlashAttentionArgs.Kernel: return FlashAttentionArgs.Accesses(FlashAttentionArgs.Decode(a), work).ToList();
                case BatchedMatMulArgs.SgemmKernel: return BatchedMatMulArgs.Accesses(BatchedMatMulArgs.Decode(a), null).ToList();
                case BatchedMatMulArgs.MatMulKernel: return BatchedMatMulArgs.Accesses(BatchedMatMulArgs.Decode(a), work).ToList();
                case InterpretedArgs.Kernel: return InterpretedArgs.Accesses(a, work).ToList();
                case ConvArgs.Kernel: return ConvArgs.Accesses(ConvArgs.Decode(a), work, transposed: false).ToList();
                case ConvArgs.TransposeKernel: return ConvArgs.Accesses(ConvArgs.Decode(a), work, transposed: true).ToList();
                case ConvArgs.GemmKernel: return ConvArgs.Accesses(ConvArgs.Decode(a, epilogue: true), work, transposed: false, single: true, ConvArgs.ReadEpilogue(a).Residual).ToList();
                case ConvMaxPoolArgs.Kernel: return ConvMaxPoolArgs.Accesses(ConvMaxPoolArgs.Decode(a), work).ToList();
                case PoolArgs.Kernel: return PoolArgs.Accesses(PoolArgs.Decode(a), work).ToList();
                case GatherArgs.Kernel: return GatherArgs.Accesses(GatherArgs.Decode(a), work).ToList();
                case ScatterAddArgs.Kernel: return ScatterAddArgs.Accesses(ScatterAddArgs.Decode(a), work).ToList();
                case CopyArgs.Kernel: return CopyArgs.Accesses(CopyArgs.Decode(a), work).ToList();
                case FillArgs.Kernel: return FillArgs.Accesses(FillArgs.Decode(a), work).ToList();
                case ArangeArgs.Kernel: return ArangeArgs.Accesses(ArangeArgs.Decode(a), work).ToList();
                case RandomUniformArgs.Kernel: return RandomUniformArgs.Accesses(RandomUniformArgs.Decode(a), work).ToList();
                case CheckRangeArgs.Kernel: return CheckRangeArgs.Accesses(CheckRangeArgs.Decode(a), work).ToList();
                case FallbackArgs.Kernel: return FallbackArgs.Accesses(FallbackArgs.Decode(a), work).ToList();
                case GemmArgs.Kernel:
                {
                    var g = GemmArgs.Decode(a);
                    var extents = GemmArgs.Accesses(g).ToList();
                    if (at >= 0 && kernel[(at + 1)..] == InterpretedArgs.Kernel) extents.AddRange(InterpretedArgs.Accesses(GemmArgs.Epilogue(a), StepExtent.Mul(g.M, g.N)));
                    else if (at >= 0) extents.AddRange(GeneratedArgs.Accesses(Layout(kernel[(at + 1)..], generated), GemmArgs.Epilogue(a), StepExtent.Mul(g.M, g.N)));
                    return extents;
                }

                default:
                    return main.StartsWith(GeneratedArgs.Prefix, StringComparison.Ordinal) ? GeneratedArgs.Accesses(Layout(main, generated), a, work) : null;
            }
        }
        catch (PlanFormatException e)
        {
            throw Bad(step, s, e.Message);
        }
    }

    private static GeneratedLayout Layout(string kernel, IReadOnlyDictionary<string, GeneratedLayout> generated) =>
        generated.TryGetValue(kernel[GeneratedArgs.Prefix.Length..], out var layout)
            ? layout
            : throw new PlanFormatException($"generated kernel '{kernel}' has no elementwise specification in the plan's kernel listing");

    /// <summary>Checks that an extent lies inside its slot's buffer and, when written, that the buffer is not a weight.</summary>
    private static void Within(PlanStep step, int s, StepExtent e, long[] bytes, IReadOnlyList<PlanBuffer> buffers)
    {
        if (e.Slot < 0 || e.Slot >= bytes.Length) throw Bad(step, s, $"slot {e.Slot} is not a buffer of the plan");
        if (e.End <= e.First) return;
        if (e.First < 0 || e.End > bytes[e.Slot])
        {
            throw Bad(step, s, $"{(e.Writes ? "writes" : "reads")} bytes [{e.First}, {e.End}) of buffer b{e.Slot} of {bytes[e.Slot]} bytes");
        }

        if (e.Writes && buffers[(int)e.Slot].Kind == BufferKind.Weight) throw Bad(step, s, $"writes into weight buffer b{e.Slot}");
    }

    /// <summary>
    /// Checks that the slot a generated kernel writes (its first argument) is not a weight, whose memory may be a
    /// read-only mapping of the plan file.
    /// </summary>
    private static void WritesNoWeight(PlanStep step, int s, long[] a, IReadOnlyList<PlanBuffer> buffers)
    {
        if (!step.Kernel.StartsWith(GeneratedArgs.Prefix, StringComparison.Ordinal) || a.Length == 0) return;
        long slot = a[0];
        if (slot < 0 || slot >= buffers.Count) throw Bad(step, s, $"slot {slot} is not a buffer of the plan");
        if (buffers[(int)slot].Kind == BufferKind.Weight) throw Bad(step, s, $"writes into weight buffer b{slot}");
    }

    private static PlanFormatException Bad(PlanStep step, int s, string problem) =>
        new($"plan step {s} ({step.Label}, kernel {step.Kernel}): {problem}");
}
