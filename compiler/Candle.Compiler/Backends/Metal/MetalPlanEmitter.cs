using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Candle.Compiler.Backends.Source;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Metal;

/// <summary>
/// Maps a <see cref="KernelGraph"/> onto Metal: generated kernels (elementwise and fused chains, row reductions and
/// normalizations) rendered by <see cref="MetalRenderer"/>, library calls onto <see cref="MetalLibrary"/> kernels,
/// each with its buffers, arguments and grid. A call without a Metal kernel is a <see cref="NotSupportedException"/>
/// naming it.
/// </summary>
internal sealed class MetalPlanEmitter
{
    /// <summary>Threads per threadgroup of one-thread-per-element kernels.</summary>
    public const uint ElementThreads = 256;

    private readonly MetalRenderer _renderer = new();
    private readonly Dictionary<string, string> _generatedByKey = new(StringComparer.Ordinal);
    private readonly List<MslKernelSource> _kernels = [];
    private readonly List<MetalStep> _steps = [];

    private MetalPlanEmitter()
    {
    }

    /// <summary>Lowers a kernel graph.</summary>
    /// <exception cref="NotSupportedException">A call has no Metal kernel (the message names it).</exception>
    public static MetalProgram Emit(KernelGraph kg)
    {
        var e = new MetalPlanEmitter();
        foreach (var call in kg.Calls) e.Lower(call);
        string generated = MetalLibrary.MslHeader + e._renderer.Prelude() + "\n" + string.Concat(e._kernels.Select(k => k.Source + "\n"));
        return new MetalProgram(new MslKernelPayload(generated + "\n" + MetalLibrary.Body), e._kernels, e._steps, kg);
    }

    private void Lower(KernelCall call)
    {
        switch (call)
        {
            case ElementwiseCall e: Elementwise(e); break;
            case FallbackElementwiseCall f: Mixed(f); break;
            case CheckRangeCall r: _steps.Add(new MetalCheck(r.Start, r.End, r.Size, r.Label)); break;
            case CopyCall c: Copy(c); break;
            case FillCall f: Linear("cdlib_fill", [f.Slot], [f.DType.SizeInBytes(), f.Count, FillBits(f.DType, f.Value)], 1, f.Label); break;
            case ArangeCall a: Arange(a); break;
            case RandomUniformCall r: throw new NotSupportedException($"the Metal backend has no kernel for random_uniform ({r.Label}): dropout in training mode runs on the cpu backend");
            case IndexSelectCall i when i.X.IsDense && i.Index.IsDense && i.Index.DType is DType.I64 or DType.I32:
                Linear("cdlib_index_select", [i.X.Slot, i.Index.Slot, i.Y], [i.X.DType.SizeInBytes(), i.Index.DType == DType.I64 ? 1 : 0, i.Outer, i.AxisSize, i.Inner, i.Index.Numel], -1, i.Label);
                break;
            case ReduceCall r when RowKernelSpec.Supports(r.Op) && Floats(r.XType, r.YType):
                Row(new RowKernelSpec(r.Op, r.XType, r.YType), [r.X, -1, -1, r.Y], r.Rows, r.RowLength, r.Label);
                break;
            case RowCall r when RowKernelSpec.Supports(r.Op) && Floats(r.XType, r.YType):
                Row(new RowKernelSpec(r.Op, r.XType, r.YType), [r.X, -1, -1, r.Y], r.Rows, r.RowLength, r.Label);
                break;
            case NormCall n when Floats(n.DType, n.DType) && n.Residual < 0:
                Row(new RowKernelSpec(n.Op, n.DType, n.DType, n.Weight >= 0, n.Bias >= 0, n.Eps), [n.X, n.Weight, n.Bias, n.Y], n.Rows, n.RowLength, n.Label);
                break;
            case GemmCall g: Gemm(g); break;
            case BatchedMatMulCall m when DTypeCode(m.DType) >= 0: BatchedMatMul(m); break;
            case AttentionCall a when DTypeCode(a.DType) >= 0: Attention(a); break;
            case RopeCall r when DTypeCode(r.DType) >= 0:
                Linear("cdlib_rope", [r.X.Slot, r.Cos.Slot, r.Sin.Slot, r.Y], [r.Rows, r.HeadDim, r.Interleaved ? 1 : 0, DTypeCode(r.DType)], -2, r.Label);
                break;
            default: throw new NotSupportedException($"the metal backend has no kernel for {call.GetType().Name} ({call.Label})");
        }
    }

    private void Elementwise(ElementwiseCall e)
    {
        // The capabilities leave out multi-output groups: every call here writes one output.
        if (e.Kernel.Stores.Count > 0) throw new NotSupportedException($"the Metal backend has no multi-output elementwise kernels ({e.Label})");
        string name = Generated(e.Kernel.Key, "ew", e.Kernel.Hint, n => _renderer.Kernel(n, e.Kernel));

        var args = Backends.Cpu.CpuPlanEmitter.ElementwiseArgs(e);
        int[] slots = [e.Output, .. e.Inputs.Select(i => i.Slot)];
        Linear(name, slots, [.. args, e.Numel], args.Length, e.Label);
    }

    private void Mixed(FallbackElementwiseCall f)
    {
        var (shape, strides) = Scheduler.Collapse(f.Shape, [.. f.Inputs.Select(v => v.Rank == 0 ? [.. f.Shape.Select(_ => Dim.Zero)] : v.Strides)]);
        var spec = new MixedKernelSpec(f.Op, f.DType, [.. f.Inputs.Select(v => v.DType)], shape.Length);
        string name = Generated(spec.Key, "mx", f.Op.Name(), n => _renderer.MixedKernel(n, spec));

        var args = new List<Dim>(shape);
        for (int k = 0; k < f.Inputs.Count; k++)
        {
            args.Add(f.Inputs[k].Offset);
            args.AddRange(strides[k]);
        }

        Linear(name, [f.Output, .. f.Inputs.Select(v => v.Slot)], [.. args, f.Numel], spec.ArgumentCount, f.Label);
    }

    /// <summary>
    /// The name of the generated kernel of <paramref name="key"/>, rendering it on first use. Names are derived from
    /// the key (kind, a hash of the key, a hint), so one name means one source in every program and process, and
    /// the kernels of many programs can share one translation unit.
    /// </summary>
    private string Generated(string key, string kind, string hint, Func<string, string> render)
    {
        if (_generatedByKey.TryGetValue(key, out string? name)) return name;
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..12];
        name = $"{kind}_{hash}_{hint}";
        _generatedByKey.Add(key, name);
        _kernels.Add(new MslKernelSource(name, render(name)));
        return name;
    }

    private static bool Floats(DType a, DType b) => a is DType.F32 or DType.F16 or DType.BF16 && b is DType.F32 or DType.F16 or DType.BF16;

    private void Row(RowKernelSpec spec, int[] slots, Dim rows, Dim rowLength, string label)
    {
        string name = Generated(spec.Key, "row", spec.Op.Name(), n => _renderer.RowKernel(n, spec));

        _steps.Add(new MetalDispatch(name, slots, [.. slots.Select(s => Dim.Of(s)), rows, rowLength], a => RowGrid(a[4], a[5]), label));
    }

    /// <summary>One threadgroup per row, of 32 to <see cref="RowThreads"/> threads (a multiple of 32 covering the row when it is short).</summary>
    internal static MetalGrid RowGrid(long rows, long rowLength) =>
        new((checked((uint)rows), 1, 1), ((uint)Math.Clamp((rowLength + 31) / 32 * 32, 32, RowThreads), 1, 1));

    /// <summary>The most threads of a row kernel's threadgroup.</summary>
    public const int RowThreads = 256;

    private void Copy(CopyCall c)
    {
        if (c.Src.IsConstant) throw new NotSupportedException($"the metal backend copies no constant view ({c.Label})");
        int rank = c.Src.Rank;
        Dim[] args = [c.Src.DType.SizeInBytes(), rank, c.Src.Numel, c.Src.Offset, c.Dst.Offset, .. c.Src.Shape, .. c.Src.Strides, .. c.Dst.Strides];
        Linear("cdlib_copy", [c.Src.Slot, c.Dst.Slot], args, 2, c.Label);
    }

    private void Arange(ArangeCall a)
    {
        int kind = a.DType switch
        {
            DType.F32 => 0,
            DType.I64 => 1,
            DType.I32 => 2,
            DType.F16 => 3,
            DType.BF16 => 4,
            _ => throw new NotSupportedException($"the metal backend has no arange of {a.DType.TorchName()} ({a.Label})"),
        };
        Linear("cdlib_arange", [a.Slot], [kind, a.Length, F32Bits(a.Start), F32Bits(a.Step), (long)a.Start, (long)a.Step], 1, a.Label);
    }

    /// <summary>A dispatch of one thread per element; <paramref name="countArg"/> is the argument holding the count (-1: the product of args 2, 5 and 4).</summary>
    private void Linear(string kernel, int[] slots, Dim[] args, int countArg, string label)
    {
        Func<long[], MetalGrid> grid = countArg switch
        {
            >= 0 => a => MetalGrid.Linear(a[countArg], ElementThreads),
            -1 => a => MetalGrid.Linear(a[2] * a[5] * a[4], ElementThreads),
            _ => a => MetalGrid.Linear(a[0] * (a[1] / 2), ElementThreads),
        };
        _steps.Add(new MetalDispatch(kernel, slots, args, grid, label));
    }

    /// <summary>The library kernels' float dtype code (0 float, 1 half, 2 bfloat), -1 for others.</summary>
    private static int DTypeCode(DType dt) => dt switch
    {
        DType.F32 => 0,
        DType.F16 => 1,
        DType.BF16 => 2,
        _ => -1,
    };

    private void Gemm(GemmCall g)
    {
        var (a, b) = (g.A, g.B);
        int bdt = DTypeCode(b.StoredDType ?? DType.F32);
        if (a.DType != DType.F32 || bdt is not (0 or 2)) throw new NotSupportedException($"the metal backend's GEMM reads float32 A and float32 or bfloat16 B ({g.Label})");
        Dim[] args = [a.Offset, g.ARowStride, a.Strides[a.Rank - 1], b.Offset, b.Strides[b.Rank - 2], b.Strides[b.Rank - 1], g.Rows, g.N, g.K, bdt];
        _steps.Add(new MetalDispatch("cdlib_gemm", [a.Slot, b.Slot, g.C], args,
            x => new MetalGrid((checked((uint)((x[7] + 31) / 32)), checked((uint)((x[6] + 31) / 32)), 1), (128, 1, 1)), g.Label));
        if (g.Epilogue is { } epi) Elementwise(epi);
    }

    private void BatchedMatMul(BatchedMatMulCall m)
    {
        var (a, b) = (m.A, m.B);
        int r = a.Rank, br = m.BatchShape.Length;
        var args = new List<Dim> { DTypeCode(m.DType), m.M, m.N, m.K, br };
        args.AddRange(m.BatchShape);
        args.Add(a.Offset);
        args.AddRange(a.Strides.Take(br));
        args.Add(a.Strides[r - 2]);
        args.Add(a.Strides[r - 1]);
        args.Add(b.Offset);
        args.AddRange(b.Strides.Take(br));
        args.Add(b.Strides[r - 2]);
        args.Add(b.Strides[r - 1]);
        _steps.Add(new MetalDispatch("cdlib_batched_matmul", [a.Slot, b.Slot, m.C], [.. args], x =>
        {
            long count = x[1] * x[2];
            for (int d = 0; d < x[4]; d++) count *= x[5 + d];
            return MetalGrid.Linear(count, ElementThreads);
        }, m.Label));
    }

    /// <summary>The most head dim the attention kernels take.</summary>
    public const int MaxHeadDim = 256;

    private void Attention(AttentionCall at)
    {
        var (q, k, v, mask) = (at.Q, at.K, at.V, at.Mask);
        var args = new List<Dim>();
        foreach (var t in new[] { q, k, v }) args.AddRange([t.Offset, .. t.Strides]);
        int maskKind = 0, maskCode = 0;
        if (mask is null)
        {
            args.AddRange([0, 0, 0, 0, 0]);
        }
        else
        {
            if (mask.Rank != 4) throw new NotSupportedException($"the metal backend's attention takes a 4-d mask ({at.Label})");
            maskKind = mask.DType == DType.Bool ? 1 : 2;
            maskCode = mask.DType == DType.Bool ? 0 : DTypeCode(mask.DType);
            if (maskCode < 0) throw new NotSupportedException($"the metal backend's attention has no {mask.DType.TorchName()} mask ({at.Label})");
            args.AddRange([mask.Offset, .. mask.Strides]);
        }

        args.AddRange([maskKind, q.Shape[0], q.Shape[1], k.Shape[1], q.Shape[2], k.Shape[2], q.Shape[3], v.Shape[3], F32Bits(at.Scale), at.Causal ? 1 : 0, DTypeCode(at.DType), maskCode]);
        var step = new MetalDispatch("cdlib_attention_prefill", [q.Slot, k.Slot, v.Slot, mask?.Slot ?? -1, at.Y], [.. args], x =>
        {
            long batch = x[21], heads = x[22], kvHeads = x[23], sq = x[24], dk = x[26], dv = x[27];
            if (dk > MaxHeadDim || dv > MaxHeadDim) throw new NotSupportedException($"{at.Label}: head dims {dk} and {dv} exceed the metal attention kernels' {MaxHeadDim}");
            if (kvHeads == 0 || heads % kvHeads != 0) throw new ArgumentException($"{at.Label}: query heads {heads} are not a multiple of key/value heads {kvHeads}");
            return sq <= DecodeRows
                ? new MetalGrid((checked((uint)sq), checked((uint)heads), checked((uint)batch)), (128, 1, 1))
                : new MetalGrid((checked((uint)((sq + 3) / 4)), checked((uint)heads), checked((uint)batch)), (128, 1, 1));
        }, at.Label)
        {
            SelectKernel = x => x[24] <= DecodeRows ? "cdlib_attention_decode" : "cdlib_attention_prefill",
        };
        _steps.Add(step);
    }

    /// <summary>Query rows up to which attention runs the decode kernel (keys split over simdgroups).</summary>
    public const int DecodeRows = 2;

    private static long F32Bits(double v) => BitConverter.SingleToUInt32Bits((float)v);

    private static long FillBits(DType dt, double v) => dt switch
    {
        DType.F32 => BitConverter.SingleToUInt32Bits((float)v),
        DType.F64 => BitConverter.DoubleToInt64Bits(v),
        DType.F16 => BitConverter.HalfToUInt16Bits((Half)v),
        DType.BF16 => BFloat16Bits.FromSingle((float)v),
        DType.Bool => v != 0 ? 1 : 0,
        _ => (long)v,
    };
}
