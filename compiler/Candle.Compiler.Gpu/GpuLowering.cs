using System.Reflection;
using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using ILGPU;
using ILGPU.Runtime;
using Frame = Candle.Compiler.Gpu.GpuExecutable.Frame;
using Mem = Candle.Compiler.Gpu.GpuExecutable.Mem;

namespace Candle.Compiler.Gpu;

/// <summary>
/// Maps each call of a kernel graph to a step that launches its kernel on a <see cref="GpuDevice"/>: generated
/// kernels for elementwise calls and epilogues, the library kernels (<see cref="RowKernels"/>,
/// <see cref="AttentionKernels"/>, <see cref="GemmKernels"/>, <see cref="MemoryKernels"/>) specialized for the
/// call's dtypes, and cuBLAS for matrix products on CUDA. Sizes are evaluated per run from the bound symbols.
/// </summary>
internal sealed class GpuLowering(GpuDevice device, Type? generated, IReadOnlyDictionary<ElementwiseSpec, string> kernelNames)
{
    private const BindingFlags Static = BindingFlags.Public | BindingFlags.Static;

    private AcceleratorStream Stream => device.Accelerator.DefaultStream;

    public Action<Frame> Lower(KernelCall call) => call switch
    {
        ElementwiseCall e => Elementwise(e),
        GemmCall g => Gemm(g),
        BatchedMatMulCall b => BatchedMatMul(b),
        AttentionCall a => Attention(a),
        NormCall n => Norm(n),
        RowCall { Op: Op.Softmax or Op.LogSoftmax } r when r.XType == r.YType => Softmax(r),
        ReduceCall r when r.Op.ReduceKernelOp() is Runtime.Kernels.Cpu.ReduceOp.Sum or Runtime.Kernels.Cpu.ReduceOp.Mean or Runtime.Kernels.Cpu.ReduceOp.Max or Runtime.Kernels.Cpu.ReduceOp.Min => Reduce(r),
        RopeCall r => Rope(r),
        IndexSelectCall i => IndexSelect(i),
        CopyCall c => Copy(c),
        FallbackElementwiseCall { Op: Op.Cast, Inputs: [{ DType: DType.I64 }], DType: DType.F32 or DType.F16 or DType.BF16 } c => CastFromI64(c),
        FallbackElementwiseCall m => Mixed(m),
        GatherCall g => Gather(g),
        ScatterAddCall s => ScatterAdd(s),
        FillCall f => Fill(f),
        ArangeCall a => Arange(a),
        CheckRangeCall c => CheckRange(c),
        _ => throw new NotSupportedException($"the GPU backend has no kernel for {call.GetType().Name} ({call.Label})"),
    };

    /// <summary>The storage view type and its <see cref="IStorage{T}"/> of a float dtype.</summary>
    internal static (Type Element, Type Storage) FloatStorage(DType dt, string what) => dt switch
    {
        DType.F32 => (typeof(float), typeof(F32Storage)),
        DType.F16 => (typeof(ushort), typeof(F16Storage)),
        DType.BF16 => (typeof(ushort), typeof(BF16Storage)),
        DType.Bool => (typeof(byte), typeof(BoolStorage)),
        _ => throw new NotSupportedException($"the GPU backend does not run {what} in {dt.TorchName()}"),
    };

    /// <summary>The raw element type of a dtype's size (copies, fills, gathers).</summary>
    internal static Type RawType(DType dt) => dt.SizeInBytes() switch
    {
        1 => typeof(byte),
        2 => typeof(ushort),
        4 => typeof(uint),
        8 => typeof(ulong),
        _ => throw new NotSupportedException($"the GPU backend does not move {dt.TorchName()} elements"),
    };

    private static object View(Mem m, Type element, long elementOffset = 0)
    {
        if (element == typeof(float)) return m.View<float>(elementOffset);
        if (element == typeof(ushort)) return m.View<ushort>(elementOffset);
        if (element == typeof(byte)) return m.View<byte>(elementOffset);
        if (element == typeof(uint)) return m.View<uint>(elementOffset);
        if (element == typeof(ulong)) return m.View<ulong>(elementOffset);
        if (element == typeof(long)) return m.View<long>(elementOffset);
        if (element == typeof(int)) return m.View<int>(elementOffset);
        throw new NotSupportedException($"no view of {element.Name}");
    }

    private static MethodInfo Generic(Type type, string name, params Type[] args) =>
        type.GetMethod(name, Static)!.MakeGenericMethod(args);

    /// <summary>Threads of a row group: a power of two up to 1024 (and the device's limit), about 8 elements per thread.</summary>
    private int GroupFor(long rowLength)
    {
        int max = Math.Min(1024, device.Accelerator.MaxNumThreadsPerGroup);
        int g = Math.Min(32, max);
        while (g * 2 <= max && g * 8 < rowLength) g *= 2;
        return g;
    }

    /// <summary>The GEMM tile edge: 16, or less where groups are smaller (ILGPU's CPU accelerator).</summary>
    private int TileEdge
    {
        get
        {
            int t = GemmKernels.Tile;
            while (t * t > device.Accelerator.MaxNumThreadsPerGroup) t /= 2;
            return t;
        }
    }

    /// <summary>Threads of an attention group (one query row).</summary>
    private int AttentionGroup => Math.Min(AttentionKernels.GroupSize, device.Accelerator.MaxNumThreadsPerGroup);

    private void Launch(MethodInfo m, long items, params object[] args)
    {
        if (items <= 0) return;
        if (items > int.MaxValue) throw new NotSupportedException($"{m.Name}: {items} items exceed one launch");
        device.Kernel(m, explicitlyGrouped: false).Launch(Stream, new Index1D((int)items), args);
    }

    private void LaunchGroups(MethodInfo m, KernelConfig config, params object[] args)
    {
        if (config.GridDim.Size <= 0) return;
        device.Kernel(m, explicitlyGrouped: true).Launch(Stream, config, args);
    }

    private Action<Frame> Elementwise(ElementwiseCall e)
    {
        var method = generated?.GetMethod(kernelNames[e.Kernel], Static) ?? throw new InvalidOperationException($"no generated kernel for {e.Label}");
        var spec = e.Kernel;
        return f =>
        {
            var args = new List<object> { View(f.Slots[e.Output], ElementwiseKernelEmitter.StorageType(spec.OutDType)) };
            for (int k = 0; k < e.Inputs.Count; k++) args.Add(View(f.Slots[e.Inputs[k].Slot], ElementwiseKernelEmitter.StorageType(spec.Inputs[k].DType)));
            foreach (var d in e.Shape) args.Add(f.Eval(d));
            foreach (var i in e.Inputs)
            {
                args.Add(f.Eval(i.Offset));
                foreach (var s in i.Strides) args.Add(f.Eval(s));
            }

            Launch(method, f.Eval(e.Numel), [.. args]);
        };
    }

    private Action<Frame> Gemm(GemmCall g)
    {
        var epilogue = g.Epilogue is { } epi ? Elementwise(epi) : null;
        var (a, b) = (g.A, g.B);
        var bType = b.StoredDType ?? b.DType;
        var (bElem, bStorage) = FloatStorage(bType, g.Label);
        var tiled = Generic(typeof(GemmKernels), nameof(GemmKernels.Gemm), typeof(float), typeof(F32Storage), bElem, bStorage, typeof(float), typeof(F32Storage));
        return f =>
        {
            long m = f.Eval(g.Rows), n = f.Eval(g.N), k = f.Eval(g.K);
            long aOff = f.Eval(a.Offset), aM = f.Eval(g.ARowStride), aK = f.Eval(a.Strides[^1]);
            long bOff = f.Eval(b.Offset), bK = f.Eval(b.Strides[^2]), bN = f.Eval(b.Strides[^1]);
            var (am, bm, cm) = (f.Slots[a.Slot], f.Slots[b.Slot], f.Slots[g.C]);
            if (m > 0 && n > 0 && !TryCublas(DType.F32, bType, m, n, k, am, aOff, aM, aK, 0, bm, bOff, bK, bN, 0, cm, 1))
            {
                Tiled(tiled, am, bm, cm, m, n, k, aOff, aM, aK, bOff, bK, bN, [], [], []);
            }

            epilogue?.Invoke(f);
        };
    }

    private Action<Frame> BatchedMatMul(BatchedMatMulCall c)
    {
        var (a, b) = (c.A, c.B);
        int br = c.BatchShape.Length;
        if (br > GemmKernels.MaxBatchRank) throw new NotSupportedException($"{c.Label}: more than {GemmKernels.MaxBatchRank} batch dims");
        var (elem, storage) = FloatStorage(c.DType, c.Label);
        var tiled = Generic(typeof(GemmKernels), nameof(GemmKernels.Gemm), elem, storage, elem, storage, elem, storage);
        return f =>
        {
            long m = f.Eval(c.M), n = f.Eval(c.N), k = f.Eval(c.K);
            long[] sizes = [.. c.BatchShape.Select(f.Eval)];
            long[] sa = [.. a.Strides.Take(br).Select(f.Eval)];
            long[] sb = [.. b.Strides.Take(br).Select(f.Eval)];
            long aOff = f.Eval(a.Offset), aM = f.Eval(a.Strides[^2]), aK = f.Eval(a.Strides[^1]);
            long bOff = f.Eval(b.Offset), bK = f.Eval(b.Strides[^2]), bN = f.Eval(b.Strides[^1]);
            var (am, bm, cm) = (f.Slots[a.Slot], f.Slots[b.Slot], f.Slots[c.C]);
            long batch = sizes.Aggregate(1L, (x, y) => x * y);
            if (m == 0 || n == 0 || batch == 0) return;
            if (Uniform(sizes, sa) is long strideA && Uniform(sizes, sb) is long strideB
                && TryCublas(c.DType, c.DType, m, n, k, am, aOff, aM, aK, strideA, bm, bOff, bK, bN, strideB, cm, batch))
            {
                return;
            }

            Tiled(tiled, am, bm, cm, m, n, k, aOff, aM, aK, bOff, bK, bN, sizes, sa, sb);
        };
    }

    /// <summary>The one stride that walks every batch dim in order (row-major over the batch shape), or null.</summary>
    private static long? Uniform(long[] sizes, long[] strides)
    {
        long? unit = null;
        long expect = -1;
        for (int d = sizes.Length - 1; d >= 0; d--)
        {
            if (sizes[d] == 1) continue;
            if (unit is null)
            {
                unit = strides[d];
                expect = strides[d] * sizes[d];
            }
            else
            {
                if (strides[d] != expect) return null;
                expect *= sizes[d];
            }
        }

        return unit ?? 0;
    }

    private bool TryCublas(DType aType, DType bType, long m, long n, long k, Mem am, long aOff, long aM, long aK, long strideA, Mem bm, long bOff, long bK, long bN, long strideB, Mem cm, long batch)
    {
        var blas = device.Cublas;
        if (blas is null || aType != bType || Cublas.DataType(aType) < 0 || k == 0) return false;
        if (m > int.MaxValue || n > int.MaxValue || k > int.MaxValue || batch > int.MaxValue) return false;

        // Column-major view: the first operand is Bᵀ (n × k), the second Aᵀ (k × m).
        bool bT;
        long ldb;
        if (bN == 1 && bK >= Math.Max(1, n)) (bT, ldb) = (false, bK);
        else if (bK == 1 && bN >= Math.Max(1, k)) (bT, ldb) = (true, bN);
        else return false;
        bool aT;
        long lda;
        if (aK == 1 && aM >= Math.Max(1, k)) (aT, lda) = (false, aM);
        else if (aM == 1 && aK >= Math.Max(1, m)) (aT, lda) = (true, aK);
        else return false;
        int size = aType.SizeInBytes();
        device.Accelerator.Bind();
        blas.Gemm(aType, (int)m, (int)n, (int)k, am.Pointer(aOff, size), aT, lda, strideA, bm.Pointer(bOff, size), bT, ldb, strideB, cm.Pointer(0, size), m * n, (int)batch);
        return true;
    }

    private void Tiled(MethodInfo kernel, Mem am, Mem bm, Mem cm, long m, long n, long k, long aOff, long aM, long aK, long bOff, long bK, long bN, long[] sizes, long[] sa, long[] sb)
    {
        int pad = GemmKernels.MaxBatchRank - sizes.Length;
        long[] s = [.. Enumerable.Repeat(1L, pad), .. sizes];
        long[] a = [.. Enumerable.Repeat(0L, pad), .. sa];
        long[] b = [.. Enumerable.Repeat(0L, pad), .. sb];
        long batch = s.Aggregate(1L, (x, y) => x * y);
        var p = kernel.GetParameters();
        int tile = TileEdge;
        var config = new KernelConfig(
            new Index3D((int)((n + tile - 1) / tile), (int)((m + tile - 1) / tile), checked((int)batch)),
            new Index3D(tile, tile, 1));
        LaunchGroups(
            kernel,
            config,
            View(am, p[0].ParameterType.GetGenericArguments()[0]),
            View(bm, p[1].ParameterType.GetGenericArguments()[0]),
            View(cm, p[2].ParameterType.GetGenericArguments()[0]),
            (int)m, (int)n, (int)k, aOff, aM, aK, bOff, bK, bN,
            s[0], s[1], s[2], s[3], a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]);
    }

    private Action<Frame> Attention(AttentionCall c)
    {
        var (q, k, v, mask) = (c.Q, c.K, c.V, c.Mask);
        var (elem, storage) = FloatStorage(c.DType, c.Label);
        var (mElem, mStorage) = mask is null ? (typeof(byte), typeof(BoolStorage)) : FloatStorage(mask.DType, c.Label + " mask");
        var kernel = Generic(typeof(AttentionKernels), nameof(AttentionKernels.Attention), elem, storage, mElem, mStorage, device.Reducer);
        if (q.Rank != 4 || k.Rank != 4 || v.Rank != 4 || (mask is not null && mask.Rank != 4))
        {
            throw new NotSupportedException($"{c.Label}: the GPU attention kernel takes rank-4 operands");
        }

        return f =>
        {
            long bsz = f.Eval(q.Shape[0]), heads = f.Eval(q.Shape[1]), kvHeads = f.Eval(k.Shape[1]);
            long sq = f.Eval(q.Shape[2]), sk = f.Eval(k.Shape[2]), d = f.Eval(q.Shape[3]), dv = f.Eval(v.Shape[3]);
            int group = AttentionGroup;
            long max = AttentionKernels.PerThread * group;
            if (d > max || dv > max) throw new NotSupportedException($"{c.Label}: head dims above {max} are not supported on the GPU");
            if (f.Eval(q.Strides[3]) != 1 || f.Eval(k.Strides[3]) != 1 || f.Eval(v.Strides[3]) != 1)
            {
                throw new NotSupportedException($"{c.Label}: the GPU attention kernel needs unit stride along the head dim");
            }

            long rows = bsz * heads * sq;
            if (rows == 0) return;
            long[] ms = mask is null ? [0, 0, 0, 0, 0] : [f.Eval(mask.Offset), .. mask.Strides.Select(f.Eval)];
            var mm = mask is null ? new Mem(f.Scratch!, 0, 16) : f.Slots[mask.Slot];
            LaunchGroups(
                kernel,
                new KernelConfig(new Index1D(checked((int)rows)), new Index1D(group)),
                View(f.Slots[q.Slot], elem), View(f.Slots[k.Slot], elem), View(f.Slots[v.Slot], elem), View(mm, mElem), View(f.Slots[c.Y], elem),
                f.Eval(q.Offset), f.Eval(q.Strides[0]), f.Eval(q.Strides[1]), f.Eval(q.Strides[2]),
                f.Eval(k.Offset), f.Eval(k.Strides[0]), f.Eval(k.Strides[1]), f.Eval(k.Strides[2]),
                f.Eval(v.Offset), f.Eval(v.Strides[0]), f.Eval(v.Strides[1]), f.Eval(v.Strides[2]),
                ms[0], ms[1], ms[2], ms[3], ms[4],
                (int)heads, (int)kvHeads, (int)sq, (int)sk, (int)d, (int)dv, (float)c.Scale, c.Causal ? 1 : 0, mask is null ? 0 : 1,
                mask?.DType == DType.Bool ? 1 : 0);
        };
    }

    private Action<Frame> Norm(NormCall c)
    {
        var (elem, storage) = FloatStorage(c.DType, c.Label);
        bool layer = c.Op == Op.LayerNorm;
        var kernel = Generic(typeof(RowKernels), layer ? nameof(RowKernels.LayerNorm) : nameof(RowKernels.RmsNorm), elem, storage, device.Reducer);
        return f =>
        {
            long rows = f.Eval(c.Rows), len = f.Eval(c.RowLength);
            if (rows == 0) return;
            var x = View(f.Slots[c.X], elem);
            var w = c.Weight >= 0 ? View(f.Slots[c.Weight], elem) : x;
            var b = c.Bias >= 0 ? View(f.Slots[c.Bias], elem) : x;
            var y = View(f.Slots[c.Y], elem);
            var config = new KernelConfig(new Index1D(checked((int)rows)), new Index1D(GroupFor(len)));
            if (layer) LaunchGroups(kernel, config, x, w, b, y, checked((int)len), c.Weight >= 0 ? 1 : 0, c.Bias >= 0 ? 1 : 0, (float)c.Eps);
            else LaunchGroups(kernel, config, x, w, y, checked((int)len), c.Weight >= 0 ? 1 : 0, (float)c.Eps);
        };
    }

    private Action<Frame> Softmax(RowCall c)
    {
        var (elem, storage) = FloatStorage(c.XType, c.Label);
        var kernel = Generic(typeof(RowKernels), nameof(RowKernels.Softmax), elem, storage, device.Reducer);
        return f =>
        {
            long rows = f.Eval(c.Rows), len = f.Eval(c.RowLength);
            if (rows == 0) return;
            LaunchGroups(
                kernel,
                new KernelConfig(new Index1D(checked((int)rows)), new Index1D(GroupFor(len))),
                View(f.Slots[c.X], elem), View(f.Slots[c.Y], elem), checked((int)len), c.Op == Op.LogSoftmax ? 1 : 0);
        };
    }

    private Action<Frame> Reduce(ReduceCall c)
    {
        var (xe, xs) = FloatStorage(c.XType, c.Label);
        var (ye, ys) = FloatStorage(c.YType, c.Label);
        var kernel = Generic(typeof(RowKernels), nameof(RowKernels.Reduce), xe, xs, ye, ys, device.Reducer);
        int op = (int)c.Op.ReduceKernelOp();
        return f =>
        {
            long rows = f.Eval(c.Rows), len = f.Eval(c.RowLength);
            if (rows == 0) return;
            LaunchGroups(
                kernel,
                new KernelConfig(new Index1D(checked((int)rows)), new Index1D(GroupFor(len))),
                View(f.Slots[c.X], xe), View(f.Slots[c.Y], ye), checked((int)len), op);
        };
    }

    private Action<Frame> Rope(RopeCall c)
    {
        var (elem, storage) = FloatStorage(c.DType, c.Label);
        var kernel = Generic(typeof(AttentionKernels), nameof(AttentionKernels.Rope), elem, storage);
        return f =>
        {
            long rows = f.Eval(c.Rows), hd = f.Eval(c.HeadDim);
            Launch(kernel, rows * (hd / 2), View(f.Slots[c.X], elem), View(f.Slots[c.Cos], elem), View(f.Slots[c.Sin], elem), View(f.Slots[c.Y], elem), checked((int)hd), c.Interleaved ? 1 : 0);
        };
    }

    private Action<Frame> IndexSelect(IndexSelectCall c)
    {
        var raw = RawType(c.X.DType);
        var (name, idxType) = c.Index.DType switch
        {
            DType.I64 => (nameof(MemoryKernels.IndexSelectI64), typeof(long)),
            DType.I32 => (nameof(MemoryKernels.IndexSelectI32), typeof(int)),
            _ => throw new NotSupportedException($"{c.Label}: indices of {c.Index.DType.TorchName()}"),
        };
        var kernel = Generic(typeof(MemoryKernels), name, raw);
        return f =>
        {
            long outer = f.Eval(c.Outer), axis = f.Eval(c.AxisSize), inner = f.Eval(c.Inner), count = f.Eval(c.Index.Numel);
            Launch(
                kernel,
                outer * count * inner,
                View(f.Slots[c.X.Slot], raw, f.Eval(c.X.Offset)),
                View(f.Slots[c.Index.Slot], idxType, f.Eval(c.Index.Offset)),
                View(f.Slots[c.Y], raw),
                new Mem(f.Scratch!, 0, 16).View<int>(),
                axis,
                Math.Max(inner, 1),
                Math.Max(count, 1));
        };
    }

    private Action<Frame> Copy(CopyCall c)
    {
        var (src, dst) = (c.Src, c.Dst);
        if (src.IsConstant) throw new NotSupportedException($"{c.Label}: a copy from a constant");
        var raw = RawType(src.DType);
        var kernel = Generic(typeof(MemoryKernels), nameof(MemoryKernels.Copy), raw);
        var shape = src.Rank == 0 ? [Dim.One] : src.Shape;
        var ss = src.Rank == 0 ? [Dim.Zero] : src.Strides;
        var ds = dst.Rank == 0 ? [Dim.Zero] : dst.Strides;
        var (cs, cstr) = Scheduler.Collapse(shape, [ds, ss]);
        if (cs.Length > MemoryKernels.MaxRank) throw new NotSupportedException($"{c.Label}: a copy over more than {MemoryKernels.MaxRank} dims");
        int pad = MemoryKernels.MaxRank - cs.Length;
        return f =>
        {
            long[] s = [.. Enumerable.Repeat(1L, pad), .. cs.Select(f.Eval)];
            long[] d = [.. Enumerable.Repeat(0L, pad), .. cstr[0].Select(f.Eval)];
            long[] t = [.. Enumerable.Repeat(0L, pad), .. cstr[1].Select(f.Eval)];
            long n = s.Aggregate(1L, (x, y) => x * y);
            Launch(
                kernel,
                n,
                View(f.Slots[dst.Slot], raw),
                View(f.Slots[src.Slot], raw),
                s[0], s[1], s[2], s[3], s[4], s[5],
                f.Eval(dst.Offset), d[0], d[1], d[2], d[3], d[4], d[5],
                f.Eval(src.Offset), t[0], t[1], t[2], t[3], t[4], t[5]);
        };
    }

    private Action<Frame> CastFromI64(FallbackElementwiseCall c)
    {
        var src = c.Inputs[0];
        if (src.IsConstant) throw new NotSupportedException($"{c.Label}: a cast of a constant");
        var (elem, storage) = FloatStorage(c.DType, c.Label);
        var kernel = Generic(typeof(MemoryKernels), nameof(MemoryKernels.CastI64ToFloat), elem, storage);
        var shape = src.Rank == 0 ? [Dim.One] : src.Shape;
        var ss = src.Rank == 0 ? [Dim.Zero] : src.Strides;
        var (cs, cstr) = Scheduler.Collapse(shape, [ss]);
        if (cs.Length > MemoryKernels.MaxRank) throw new NotSupportedException($"{c.Label}: a cast over more than {MemoryKernels.MaxRank} dims");
        int pad = MemoryKernels.MaxRank - cs.Length;
        return f =>
        {
            long[] s = [.. Enumerable.Repeat(1L, pad), .. cs.Select(f.Eval)];
            long[] t = [.. Enumerable.Repeat(0L, pad), .. cstr[0].Select(f.Eval)];
            long n = s.Aggregate(1L, (x, y) => x * y);
            Launch(
                kernel,
                n,
                View(f.Slots[c.Output], elem),
                f.Slots[src.Slot].View<long>(),
                s[1], s[2], s[3], s[4], s[5],
                f.Eval(src.Offset), t[0], t[1], t[2], t[3], t[4], t[5]);
        };
    }

    private Action<Frame> Fill(FillCall c)
    {
        var raw = RawType(c.DType);
        var kernel = Generic(typeof(MemoryKernels), nameof(MemoryKernels.Fill), raw);
        object value = c.DType switch
        {
            DType.F32 => (object)BitConverter.SingleToUInt32Bits((float)c.Value),
            DType.F16 => (object)GpuMath.F32ToF16((float)c.Value),
            DType.BF16 => (object)GpuMath.F32ToBF16((float)c.Value),
            DType.F64 => (object)BitConverter.DoubleToUInt64Bits(c.Value),
            DType.I64 => (object)unchecked((ulong)(long)c.Value),
            DType.I32 => (object)unchecked((uint)(int)c.Value),
            DType.I8 => (object)unchecked((byte)(sbyte)c.Value),
            DType.U8 => (object)(byte)c.Value,
            DType.Bool => (object)(c.Value != 0 ? (byte)1 : (byte)0),
            _ => throw new NotSupportedException($"{c.Label}: fill of {c.DType.TorchName()}"),
        };
        return f => Launch(kernel, f.Eval(c.Count), View(f.Slots[c.Slot], raw), value);
    }

    private Action<Frame> Arange(ArangeCall c)
    {
        return c.DType switch
        {
            DType.I64 => f => Launch(typeof(MemoryKernels).GetMethod(nameof(MemoryKernels.ArangeI64), Static)!, f.Eval(c.Length), f.Slots[c.Slot].View<long>(), (long)c.Start, (long)c.Step),
            DType.I32 => f => Launch(typeof(MemoryKernels).GetMethod(nameof(MemoryKernels.ArangeI32), Static)!, f.Eval(c.Length), f.Slots[c.Slot].View<int>(), (int)c.Start, (int)c.Step),
            _ => ArangeFloat(c),
        };
    }

    private Action<Frame> ArangeFloat(ArangeCall c)
    {
        var (elem, storage) = FloatStorage(c.DType, c.Label);
        var kernel = Generic(typeof(MemoryKernels), nameof(MemoryKernels.ArangeFloat), elem, storage);
        return f => Launch(kernel, f.Eval(c.Length), View(f.Slots[c.Slot], elem), (float)c.Start, (float)c.Step);
    }

    private static Action<Frame> CheckRange(CheckRangeCall c) => f =>
    {
        long s = f.Eval(c.Start), e = f.Eval(c.End), n = f.Eval(c.Size);
        if (s < 0 || s > e || e > n) throw new ArgumentException($"{c.Label}: the range [{s}, {e}) does not lie in 0..{n}");
    };
    /// <summary>The element view type and <see cref="IMixedStorage{T}"/> of a dtype for <see cref="MixedKernels"/>.</summary>
    private static (Type Element, Type Storage) MixedStorage(DType dt, string what) => dt switch
    {
        DType.I64 => (typeof(long), typeof(I64Mixed)),
        DType.I32 => (typeof(int), typeof(I32Mixed)),
        DType.I8 => (typeof(byte), typeof(I8Mixed)),
        DType.U8 => (typeof(byte), typeof(U8Mixed)),
        DType.Bool => (typeof(byte), typeof(BoolMixed)),
        DType.F32 => (typeof(float), typeof(F32Mixed)),
        DType.F16 => (typeof(ushort), typeof(F16Mixed)),
        DType.BF16 => (typeof(ushort), typeof(BF16Mixed)),
        _ => throw new NotSupportedException($"the GPU backend does not run {what} on {dt.TorchName()}"),
    };

    /// <summary>A single elementwise op over integer or boolean operands (<see cref="MixedKernels"/>).</summary>
    private Action<Frame> Mixed(FallbackElementwiseCall c)
    {
        int n = c.Inputs.Count;
        bool floatDomain = c.DType.IsFloat() || c.Inputs.Any(v => v.DType.IsFloat());
        if (!MixedKernels.Supports(c.Op, n, floatDomain))
        {
            throw new NotSupportedException($"the GPU backend has no kernel for {c.Op.Name()} over {string.Join(", ", c.Inputs.Select(v => v.DType.TorchName()))}");
        }

        if (c.Inputs.Any(v => v.IsConstant)) throw new NotSupportedException($"{c.Label}: a constant operand");
        var (shape, strides) = Scheduler.Collapse(c.Shape, [.. c.Inputs.Select(v => v.Rank == 0 ? [.. c.Shape.Select(_ => Dim.Zero)] : v.Strides)]);
        if (shape.Length > MixedKernels.Rank) throw new NotSupportedException($"{c.Label}: more than {MixedKernels.Rank} dims after collapsing");
        var y = MixedStorage(c.DType, c.Label);
        var ins = c.Inputs.Select(v => MixedStorage(v.DType, c.Label)).ToArray();
        string name = n switch { 1 => nameof(MixedKernels.Unary), 2 => nameof(MixedKernels.Binary), _ => nameof(MixedKernels.Ternary) };
        Type[] generic = [y.Element, y.Storage, .. ins.SelectMany(t => new[] { t.Element, t.Storage })];
        var kernel = Generic(typeof(MixedKernels), name, generic);
        int pad = MixedKernels.Rank - shape.Length;
        int op = (int)c.Op, boolOut = c.DType == DType.Bool ? 1 : 0, fl = floatDomain ? 1 : 0;
        return f =>
        {
            long[] s = [.. Enumerable.Repeat(1L, pad), .. shape.Select(f.Eval)];
            long count = s.Aggregate(1L, (a, b) => a * b);
            var args = new List<object> { View(f.Slots[c.Output], y.Element) };
            for (int k = 0; k < n; k++) args.Add(View(f.Slots[c.Inputs[k].Slot], ins[k].Element));
            args.Add(op);
            args.Add(fl);
            args.Add(boolOut);
            for (int d = 1; d < MixedKernels.Rank; d++) args.Add(s[d]);
            for (int k = 0; k < n; k++)
            {
                args.Add(f.Eval(c.Inputs[k].Offset));
                for (int d = 0; d < pad; d++) args.Add(0L);
                foreach (var st in strides[k]) args.Add(f.Eval(st));
            }

            Launch(kernel, count, [.. args]);
        };
    }

    /// <summary>A padded six-dim shape of a dense operand.</summary>
    private static long[] Padded(Frame f, IReadOnlyList<Dim> shape) =>
        [.. Enumerable.Repeat(1L, GatherKernels.Rank - Math.Max(shape.Count, 1)), .. (shape.Count == 0 ? [1L] : shape.Select(f.Eval))];

    private (Type Element, Type Storage) IndexStorage(TensorView index, string label) => index.DType switch
    {
        DType.I64 => (typeof(long), typeof(I64Index)),
        DType.I32 => (typeof(int), typeof(I32Index)),
        _ => throw new NotSupportedException($"{label}: indices of {index.DType.TorchName()}"),
    };

    /// <summary>torch.gather along an axis (<see cref="GatherKernels.Gather{T, TI, SI}"/>).</summary>
    private Action<Frame> Gather(GatherCall c)
    {
        if (c.X.IsConstant || c.Index.IsConstant) throw new NotSupportedException($"{c.Label}: a constant operand");
        if (c.X.Rank > GatherKernels.Rank) throw new NotSupportedException($"{c.Label}: more than {GatherKernels.Rank} dims");
        var raw = RawType(c.X.DType);
        var idx = IndexStorage(c.Index, c.Label);
        var kernel = Generic(typeof(GatherKernels), nameof(GatherKernels.Gather), raw, idx.Element, idx.Storage);
        int axis = c.Axis + (GatherKernels.Rank - Math.Max(c.X.Rank, 1));
        return f =>
        {
            long[] xs = Padded(f, c.X.Shape), ix = Padded(f, c.Index.Shape);
            Launch(
                kernel,
                f.Eval(c.Index.Numel),
                View(f.Slots[c.X.Slot], raw, f.Eval(c.X.Offset)),
                View(f.Slots[c.Index.Slot], idx.Element, f.Eval(c.Index.Offset)),
                View(f.Slots[c.Y], raw),
                new Mem(f.Scratch!, 0, 16).View<int>(),
                axis,
                xs[0], xs[1], xs[2], xs[3], xs[4], xs[5],
                ix[1], ix[2], ix[3], ix[4], ix[5]);
        };
    }

    /// <summary>torch.scatter_add along an axis: a copy of x, then atomic adds of src (float32 and int64 values).</summary>
    private Action<Frame> ScatterAdd(ScatterAddCall c)
    {
        if (c.X.IsConstant || c.Index.IsConstant || c.Src.IsConstant) throw new NotSupportedException($"{c.Label}: a constant operand");
        if (c.X.Rank > GatherKernels.Rank) throw new NotSupportedException($"{c.Label}: more than {GatherKernels.Rank} dims");
        var (element, adder) = c.X.DType switch
        {
            DType.F32 => (typeof(float), typeof(F32AtomicAdd)),
            DType.I64 => (typeof(long), typeof(I64AtomicAdd)),
            _ => throw new NotSupportedException($"{c.Label}: scatter_add of {c.X.DType.TorchName()} on the GPU backend"),
        };
        var idx = IndexStorage(c.Index, c.Label);
        var kernel = Generic(typeof(GatherKernels), nameof(GatherKernels.ScatterAdd), element, adder, idx.Element, idx.Storage);
        int axis = c.Axis + (GatherKernels.Rank - Math.Max(c.X.Rank, 1));
        long size = c.X.DType.SizeInBytes();
        return f =>
        {
            long[] xs = Padded(f, c.X.Shape), ix = Padded(f, c.Index.Shape), ss = Padded(f, c.Src.Shape);
            long xn = f.Eval(c.X.Numel);
            var y = f.Slots[c.Y];
            var x = f.Slots[c.X.Slot];
            y.Buffer.View(y.Offset, xn * size).CopyFrom(Stream, x.Buffer.View(x.Offset + (f.Eval(c.X.Offset) * size), xn * size));
            Launch(
                kernel,
                f.Eval(c.Index.Numel),
                View(y, element),
                View(f.Slots[c.Index.Slot], idx.Element, f.Eval(c.Index.Offset)),
                View(f.Slots[c.Src.Slot], element, f.Eval(c.Src.Offset)),
                new Mem(f.Scratch!, 0, 16).View<int>(),
                axis,
                xs[0], xs[1], xs[2], xs[3], xs[4], xs[5],
                ix[1], ix[2], ix[3], ix[4], ix[5],
                ss[1], ss[2], ss[3], ss[4], ss[5]);
        };
    }
}
