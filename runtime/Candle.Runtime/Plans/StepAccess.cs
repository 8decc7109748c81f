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
        PlanStep step, int s, long[] args, long[] bytes, long work, IReadOnlyList<PlanBuffer> buffers, IReadOnlyDictionary<string, GeneratedLayout> generated)
    {
        try
        {
            if (work < 0) throw Bad(step, s, $"negative work count {work}");
            Check(step, s, args, bytes, work, buffers, generated);
            WritesNoWeight(step, s, args, buffers);
            return null;
        }
        catch (PlanFormatException e)
        {
            return e.Message;
        }
    }

    private static void Check(PlanStep step, int s, long[] args, long[] bytes, long work, IReadOnlyList<PlanBuffer> buffers, IReadOnlyDictionary<string, GeneratedLayout> generated)
    {
        if (Record(step, s, args, work, generated) is { } extents)
        {
            try
            {
                foreach (var e in extents) Within(step, s, e, bytes, buffers);
            }
            catch (PlanFormatException e) when (!e.Message.StartsWith("plan step ", StringComparison.Ordinal))
            {
                throw Bad(step, s, e.Message);
            }

            return;
        }

        if (work <= 0) return;
        string kernel = step.Kernel;
        switch (kernel)
        {
            case "rt:copy":
                Copy(step, s, args, bytes, work);
                break;
            case "rt:fill":
            case "rt:arange":
                Need(step, s, args, 3);
                Extent(step, s, args, bytes, args[0], ElementSize(step, s, args[1]), 0, [work], [1]);
                break;
            case "rt:elementwise":
                Elementwise(step, s, args, bytes, work);
                break;
        }
    }

    /// <summary>
    /// The extents of a step whose kernel has an argument record, decoded and checked; null for the data-movement
    /// kernels checked below. Problems of the record are raised without the step's name (the caller adds it).
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
                case QuantMatMulArgs.Kernel: return QuantMatMulArgs.Accesses(QuantMatMulArgs.Decode(a), work).ToList();
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

    private static void Copy(PlanStep step, int s, long[] a, long[] bytes, long work)
    {
        Need(step, s, a, 4);
        long es = a[2];
        if (es is not (1 or 2 or 4 or 8)) throw Bad(step, s, $"element size {es} is not 1, 2, 4 or 8");
        long rank = a[3];
        if (rank is < 0 or > 16) throw Bad(step, s, $"rank {rank} is out of range");
        int r = (int)rank;
        if (r == 0)
        {
            Need(step, s, a, 6);
            if (work != 1) throw Bad(step, s, $"a scalar copy covers {work} elements");
            Extent(step, s, a, bytes, a[0], es, a[4], [1], [0]);
            Extent(step, s, a, bytes, a[1], es, a[5], [1], [0]);
            return;
        }

        Need(step, s, a, 4 + r + (2 * (1 + r)));
        long[] shape = a[4..(4 + r)];
        Elements(step, s, shape, work);
        int dOff = 4 + r, sOff = dOff + 1 + r;
        Extent(step, s, a, bytes, a[0], es, a[dOff], shape, a[(dOff + 1)..(dOff + 1 + r)]);
        Extent(step, s, a, bytes, a[1], es, a[sOff], shape, a[(sOff + 1)..(sOff + 1 + r)]);
    }

    private static void Elementwise(PlanStep step, int s, long[] a, long[] bytes, long work)
    {
        Need(step, s, a, 5);
        long nIn = a[3], rank = a[4];
        if (nIn is < 1 or > 3) throw Bad(step, s, $"{nIn} inputs (1 to 3)");
        if (a[0] is < 0 or > int.MaxValue || !ElementwiseOps.All.Any(d => d.Code == a[0])) throw Bad(step, s, $"no elementwise op has code {a[0]}");
        var op = ElementwiseOps.ByCode((int)a[0]);
        int arity = op.Code == WhereOp.Code ? 3 : op.Code == CastOp.Code || op.Unary is not null || op.UnaryInteger is not null ? 1 : 2;
        if (nIn != arity) throw Bad(step, s, $"{op.Name} takes {arity} inputs, not {nIn}");
        if (rank is < 0 or > 16) throw Bad(step, s, $"rank {rank} is out of range");
        int r = (int)rank;
        Need(step, s, a, 5 + r + ((int)nIn * (3 + r)));
        long[] shape = a[5..(5 + r)];
        Elements(step, s, shape, work);
        Extent(step, s, a, bytes, a[1], ElementSize(step, s, a[2]), 0, [work], [1]);
        int p = 5 + r;
        for (int k = 0; k < nIn; k++)
        {
            Extent(step, s, a, bytes, a[p], ElementSize(step, s, a[p + 1]), a[p + 2], shape, a[(p + 3)..(p + 3 + r)]);
            p += 3 + r;
        }
    }

    /// <summary>Checks that the strided view (offset, shape, strides, in elements) of slot lies inside the slot's buffer.</summary>
    private static void Extent(PlanStep step, int s, long[] a, long[] bytes, long slot, long elementSize, long offset, long[] shape, long[] strides)
    {
        if (slot < 0 || slot >= bytes.Length) throw Bad(step, s, $"slot {slot} is not a buffer of the plan");
        long lo = offset, hi = offset;
        try
        {
            for (int d = 0; d < shape.Length; d++)
            {
                if (shape[d] < 0) throw Bad(step, s, $"negative extent {shape[d]}");
                if (shape[d] == 0) return;
                long span = checked((shape[d] - 1) * strides[d]);
                if (span < 0) lo = checked(lo + span);
                else hi = checked(hi + span);
            }

            long end = checked((hi + 1) * elementSize);
            if (lo < 0 || end > bytes[slot])
            {
                throw Bad(step, s, $"reads or writes elements [{lo}, {hi}] of {elementSize} bytes in buffer b{slot} of {bytes[slot]} bytes");
            }
        }
        catch (OverflowException)
        {
            throw Bad(step, s, $"the extent of buffer b{slot} overflows");
        }
    }

    /// <summary>
    /// Checks that the slot a step writes (the first argument of generated kernels, copies, fills and ranges; the second
    /// of the elementwise fallback) is not a weight, whose memory may be a read-only mapping of the plan file.
    /// </summary>
    private static void WritesNoWeight(PlanStep step, int s, long[] a, IReadOnlyList<PlanBuffer> buffers)
    {
        int at = step.Kernel.StartsWith("gen:", StringComparison.Ordinal) || step.Kernel is "rt:copy" or "rt:fill" or "rt:arange" ? 0
            : step.Kernel == "rt:elementwise" ? 1 : -1;
        if (at < 0 || a.Length <= at) return;
        long slot = a[at];
        if (slot < 0 || slot >= buffers.Count) throw Bad(step, s, $"slot {slot} is not a buffer of the plan");
        if (buffers[(int)slot].Kind == BufferKind.Weight) throw Bad(step, s, $"writes into weight buffer b{slot}");
    }

    /// <summary>Checks that the shape has exactly the step's work items as elements.</summary>
    private static void Elements(PlanStep step, int s, long[] shape, long work)
    {
        long numel = 1;
        try
        {
            foreach (long d in shape) numel = d < 0 ? throw Bad(step, s, $"negative extent {d}") : checked(numel * d);
        }
        catch (OverflowException)
        {
            throw Bad(step, s, "the shape's element count overflows");
        }

        if (numel != work) throw Bad(step, s, $"shape has {numel} elements but the step covers {work}");
    }

    private static long ElementSize(PlanStep step, int s, long dtype) =>
        Enum.IsDefined((DType)dtype) ? ((DType)dtype).SizeInBytes() : throw Bad(step, s, $"unknown dtype {dtype}");

    private static void Need(PlanStep step, int s, long[] a, int count)
    {
        if (a.Length < count) throw Bad(step, s, $"{a.Length} arguments, at least {count} expected");
    }

    private static PlanFormatException Bad(PlanStep step, int s, string problem) =>
        new($"plan step {s} ({step.Label}, kernel {step.Kernel}): {problem}");
}
