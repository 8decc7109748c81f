using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of the interpreted elementwise kernel (<see cref="ElementwiseInterpreter"/>, <c>rt:fused</c>):
/// <c>nIn, rank, nBody, outSlot, outDType, inSlot[nIn], inDType[nIn], shape[rank]</c>, then per input
/// <c>offset, strides[rank]</c>, then per body op <c>code, dtype, arg0, arg1, arg2, value</c>. The body is checked by
/// the kernel as it decodes it and again here, when the plan binds the step, with the memory the step touches.
/// </summary>
internal static class InterpretedArgs
{
    /// <summary>The kernel's name in plan steps (also the epilogue form <c>rt:gemm@rt:fused</c>).</summary>
    public const string Kernel = "rt:fused";

    /// <summary>The bytes a call reads and writes over <paramref name="work"/> output elements.</summary>
    /// <exception cref="PlanFormatException">A field is out of range or the views leave their buffers' bounds.</exception>
    public static IEnumerable<StepExtent> Accesses(long[] a, long work)
    {
        if (a.Length < 5) throw new PlanFormatException($"{a.Length} arguments, at least 5 expected");
        int n = a[0] is >= 0 and <= 16 ? (int)a[0] : throw new PlanFormatException($"input count {a[0]} is outside [0, 16]");
        int r = ArgCheck.Rank(a[1], "rank");
        long nBody = a[2] is >= 1 and <= 4096 ? a[2] : throw new PlanFormatException($"body length {a[2]} is outside [1, 4096]");
        int inSlotAt = 5, inTypeAt = inSlotAt + n, shapeAt = inTypeAt + n, viewAt = shapeAt + r;
        long need = viewAt + (n * (1 + r)) + (nBody * ElementwiseInterpreter.OpArgs);
        if (a.Length != need) throw new PlanFormatException($"{a.Length} arguments, {need} expected");
        try
        {
            ElementwiseInterpreter.CheckBody(a, n, viewAt + (n * (1 + r)), (int)nBody);
        }
        catch (ArgumentException e)
        {
            throw new PlanFormatException(e.Message);
        }

        long[] shape = a[shapeAt..viewAt];
        long numel = 1;
        foreach (long d in shape) numel = StepExtent.Mul(numel, ArgCheck.Size(d, "extent"));
        if (numel != work) throw new PlanFormatException($"shape has {numel} elements but the step covers {work}");
        var extents = new List<StepExtent> { StepExtent.Dense(ArgCheck.Slot(a[3], "output"), Storage(a[4], "output dtype"), 0, work, writes: true) };
        int p = viewAt;
        for (int i = 0; i < n; i++)
        {
            extents.Add(StepExtent.Of(ArgCheck.Slot(a[inSlotAt + i], $"input {i}"), Storage(a[inTypeAt + i], $"input {i} dtype"), a[p], shape, a[(p + 1)..(p + 1 + r)], writes: false));
            p += 1 + r;
        }

        return extents;
    }

    /// <summary>Requires a dtype the kernel stores (float32, float16, bfloat16 or bool) and returns its element size.</summary>
    private static long Storage(long v, string field) => (DType)v is DType.F32 or DType.F16 or DType.BF16 or DType.Bool && v is >= 0 and <= int.MaxValue
        ? ((DType)v).SizeInBytes()
        : throw new PlanFormatException($"{field} {v} is not float32, float16, bfloat16 or bool");
}
