using System.Reflection;
using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Runtime.Kernels.Quant;
using ILGPU;
using ILGPU.Runtime;
using Frame = Candle.Compiler.Gpu.GpuExecutable.Frame;
using Mem = Candle.Compiler.Gpu.GpuExecutable.Mem;

namespace Candle.Compiler.Gpu;

/// <summary>
/// Maps each call of a kernel graph to a step that launches its kernel on a <see cref="GpuDevice"/>: generated
/// kernels for elementwise calls and epilogues, the library kernels (<see cref="RowKernels"/>,
/// <see cref="AttentionKernels"/>, <see cref="GemmKernels"/>, <see cref="MemoryKernels"/>,
/// <see cref="QuantKernels"/>) specialized for the call's dtypes and block types, and cuBLAS for matrix products on CUDA. Sizes are evaluated per run from the bound symbols.
/// </summary>
internal sealed partial class GpuLowering(GpuDevice device, Type? generated, IReadOnlyDictionary<ElementwiseSpec, string> kernelNames, IReadOnlyDictionary<BroadcastReductionSpec, string>? rowKernelNames = null)
{
    private const BindingFlags Static = BindingFlags.Public | BindingFlags.Static;

    /// <summary>Bytes of the largest weight a quantized product of this plan dequantizes (every call is lowered before any runs).</summary>
    private long _largestDequantized;

    private AcceleratorStream Stream => device.Stream;

    /// <summary>
    /// Looks at the whole kernel graph before any call is lowered, so that a family of fused steps (one partial file
    /// each) can pair calls that run as one launch. Does nothing where no family applies.
    /// </summary>
    public void Prepare(KernelGraph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        PrepareNormFolds(graph);
        PrepareGateFolds(graph);
        PrepareRopeFolds(graph);
    }

    public Action<Frame> Lower(KernelCall call) => call switch
    {
        ElementwiseCall { StoreSlots.Count: > 0 } e => MultiOutput(e),
        ElementwiseCall e => Folded(e, Elementwise(e)),
        BroadcastReductionCall b => BroadcastReduction(b),
        GemmCall g => Folded(g, Gemm(g)),
        BatchedMatMulCall b => Folded(b, BatchedMatMul(b)),
        AttentionCall a => Attention(a),
        NormCall n => Folded(n, Norm(n)),
        RowCall { Op: Op.Softmax or Op.LogSoftmax } r when r.XType == r.YType => Softmax(r),
        ReduceCall r when r.Op.ReduceKernelOp() is Runtime.Kernels.Cpu.ReduceOp.Sum or Runtime.Kernels.Cpu.ReduceOp.Mean or Runtime.Kernels.Cpu.ReduceOp.Max or Runtime.Kernels.Cpu.ReduceOp.Min => Reduce(r),
        ReduceCall { Op: Op.ArgMax or Op.ArgMin } r => ArgReduce(r),
        ColumnReduceCall r => ColumnReduce(r),
        RopeCall r => Rope(r),
        RopeRowsCall r => Folded(r, RopeRows(r)),
        IndexSelectCall i => IndexSelect(i),
        CopyCall c => Copy(c),
        FallbackElementwiseCall { Op: Op.Cast, Inputs: [{ DType: DType.I64 }], DType: DType.F32 or DType.F16 or DType.BF16 } c => CastFromI64(c),
        FallbackElementwiseCall m => Mixed(m),
        GatherCall g => Gather(g),
        ScatterAddCall s => ScatterAdd(s),
        FillCall f => Fill(f),
        ArangeCall a => Arange(a),
        RandomUniformCall r => RandomUniform(r),
        CheckRangeCall c => CheckRange(c),
        ConvCall c => Conv(c),
        QuantMatMulCall q => QuantMatMul(q),
        QuantEmbeddingCall q => QuantEmbedding(q),
        _ => throw new NotSupportedException($"the GPU backend has no kernel for {call.GetType().Name} ({call.Label})"),
    };

    /// <summary>Set to 1, f16 is widened and narrowed in integer arithmetic on every device (A/B runs against the hardware conversion).</summary>
    internal const string SoftHalfVariable = "CANDLE_GPU_SOFT_HALF";

    /// <summary>
    /// Whether kernels convert f16 with the hardware's instructions (<see cref="GpuMath.HalfToF32"/>): CUDA and ILGPU's
    /// CPU accelerator, unless <see cref="SoftHalfVariable"/> is 1; OpenCL devices need not have half support.
    /// </summary>
    internal bool HardwareHalf { get; } = device.Kind != GpuKind.OpenCL && Environment.GetEnvironmentVariable(SoftHalfVariable) != "1";

    /// <summary>The storage view type and its <see cref="IStorage{T}"/> of a float dtype on this device (<see cref="HardwareHalf"/>).</summary>
    private (Type Element, Type Storage) Storage(DType dt, string what) => FloatStorage(dt, what, HardwareHalf);

    /// <summary>The storage view type and its <see cref="IStorage{T}"/> of a float dtype (f16 by the hardware conversion when <paramref name="hardwareHalf"/>).</summary>
    internal static (Type Element, Type Storage) FloatStorage(DType dt, string what, bool hardwareHalf = false) => dt switch
    {
        DType.F32 => (typeof(float), typeof(F32Storage)),
        DType.F16 => (typeof(ushort), hardwareHalf ? typeof(HalfStorage) : typeof(F16Storage)),
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

    private static MethodInfo Generic(Type type, string name, params Type[] args) =>
        type.GetMethod(name, Static)!.MakeGenericMethod(args);

    /// <summary>
    /// Threads of a row group: a power of two up to 1024 (and the device's limit), about 8 elements per thread, or about
    /// 2 when the rows are fewer than the multiprocessors (a decode step's one row: more threads, shorter serial loops).
    /// </summary>
    private int GroupFor(long rowLength, long rows = long.MaxValue)
    {
        int max = Math.Min(1024, device.Accelerator.MaxNumThreadsPerGroup);
        int per = rows < device.Accelerator.NumMultiprocessors ? 2 : 8;
        int g = Math.Min(32, max);
        while (g * 2 <= max && g * per < rowLength) g *= 2;
        return g;
    }

    /// <summary>
    /// The launch of a multi-pass row kernel: one group per row, and the row kept in dynamic shared memory (flag 1) when
    /// its floats fit in what a group may have beside the reducers' static buffers (a few hundred bytes). OpenCL gets
    /// no dynamic shared memory at all (its kernels are built with <see cref="NoRowCache"/>): with it beside the
    /// reducers' static shared memory the row kernels gave wrong results there, cached or not.
    /// </summary>
    private (KernelConfig Config, int Cached) RowConfig(long rows, long rowLength)
    {
        var grid = new Index1D(checked((int)rows));
        var groupDim = new Index1D(GroupFor(rowLength, rows));
        if (device.Kind == GpuKind.OpenCL) return (new KernelConfig(grid, groupDim), 0);
        const long Reserved = 1024;
        bool fits = (rowLength * sizeof(float)) + Reserved <= device.Accelerator.MaxSharedMemoryPerGroup;
        var shared = SharedMemoryConfig.RequestDynamic<float>(fits ? checked((int)rowLength) : 1);
        return (new KernelConfig(grid, groupDim, shared), fits ? 1 : 0);
    }

    /// <summary>The row cache of the multi-pass row kernels on this device (<see cref="RowConfig"/>).</summary>
    private Type RowCache => device.Kind == GpuKind.OpenCL ? typeof(NoRowCache) : typeof(SharedRowCache);

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

    /// <summary>Query rows per head up to which decode attention is split over the keys (<see cref="AttentionKernels.DecodePartial{T, TS, TM, TMS, TR}"/>).</summary>
    private const int DecodeRows = 4;

    /// <summary>Split-K attention groups aimed at per multiprocessor (latency hiding: each group is one warp on CUDA).</summary>
    private const int DecodeGroupsPerSm = 16;

    /// <summary>Fewest keys of a split-K chunk (below this the partials cost more than they save).</summary>
    private const int DecodeMinChunk = 8;

    /// <summary>The multiprocessors split-K decode fills: the device's, and at least 8 on ILGPU's CPU accelerator so its tests split the keys.</summary>
    internal int DecodeMultiprocessors => device.Kind == GpuKind.Cpu ? Math.Max(8, device.Accelerator.NumMultiprocessors) : device.Accelerator.NumMultiprocessors;

    /// <summary>
    /// The keys of a split-K chunk and the chunk count for <paramref name="rows"/> query rows over
    /// <paramref name="sk"/> keys: enough chunks for about <see cref="DecodeGroupsPerSm"/> groups per multiprocessor,
    /// none shorter than <see cref="DecodeMinChunk"/> keys (a short cache stays one chunk).
    /// </summary>
    internal static (int Chunk, int Chunks) DecodeSplit(long rows, long sk, int multiprocessors)
    {
        long want = Math.Max(1, ((long)Math.Max(1, multiprocessors) * DecodeGroupsPerSm) / Math.Max(1, rows));
        long chunk = Math.Max(DecodeMinChunk, (sk + want - 1) / want);
        long chunks = Math.Max(1, (sk + chunk - 1) / chunk);
        return (checked((int)chunk), checked((int)chunks));
    }

    /// <summary>Set to 1, key-lane decode attention runs as two launches (chunks, then merge) instead of one (A/B runs).</summary>
    internal const string DecodeTwoPassVariable = "CANDLE_GPU_DECODE_TWO_PASS";

    /// <summary>
    /// Whether key-lane decode attention is one launch whose last group per query row merges the partials
    /// (<see cref="DecodeAttentionKernels.ChunksMerged{TQ, TM, TMS, T, TS}"/>), unless <see cref="DecodeTwoPassVariable"/> is 1.
    /// </summary>
    internal static bool OneLaunchDecode => Environment.GetEnvironmentVariable(DecodeTwoPassVariable) != "1";

    /// <summary>Set to 1, the 16-bit few-row products load four quads of each weight row a lane before using any (A/B runs until measured on a card).</summary>
    internal const string DeepGemvVariable = "CANDLE_GPU_GEMV_DEEP";

    /// <summary>
    /// Whether the 16-bit few-row products run <see cref="GemvKernels.GemvQuadsDeep"/> (eight weight loads a lane in
    /// flight) instead of <see cref="GemvKernels.GemvQuads"/> (four): <see cref="DeepGemvVariable"/> is 1.
    /// </summary>
    internal static bool DeepGemv => Environment.GetEnvironmentVariable(DeepGemvVariable) == "1";

    /// <summary>Set to 1, key-lane decode attention loads a lane's first value quads before its key reads (A/B runs until measured on a card).</summary>
    internal const string DecodeEarlyValuesVariable = "CANDLE_GPU_DECODE_EARLY_VALUES";

    /// <summary>
    /// Whether key-lane decode attention issues each lane's first <see cref="DecodeAttentionKernels.EarlyValues"/> value
    /// loads ahead of its key reads (<see cref="DecodeEarlyValuesVariable"/> is 1), so that the value reads of a warp's
    /// keys overlap the key reads instead of following the scores.
    /// </summary>
    internal static bool EarlyDecodeValues => Environment.GetEnvironmentVariable(DecodeEarlyValuesVariable) == "1";

    /// <summary>Warps of key-lane decode attention aimed at per multiprocessor.</summary>
    private const int DecodeWarpsPerSm = 8;

    /// <summary>
    /// The keys of a chunk of key-lane decode attention (<see cref="DecodeAttentionKernels.Chunks{TQ, TM, TMS}"/>) and the
    /// chunk count: about <see cref="DecodeWarpsPerSm"/> warps per multiprocessor, chunks a whole number of warp widths
    /// (each lane scores one key of a step), at most <see cref="DecodeAttentionKernels.MaxChunks"/> of them.
    /// </summary>
    internal static (int Chunk, int Chunks) DecodeKeySplit(long rows, long sk, int multiprocessors, int warp)
    {
        long want = Math.Max(1, ((long)Math.Max(1, multiprocessors) * DecodeWarpsPerSm) / Math.Max(1, rows));
        long chunk = Math.Max((sk + want - 1) / want, (sk + DecodeAttentionKernels.MaxChunks - 1) / DecodeAttentionKernels.MaxChunks);
        chunk = Math.Max(warp, (chunk + warp - 1) / warp * warp);
        long chunks = Math.Max(1, (sk + chunk - 1) / chunk);
        return (checked((int)chunk), checked((int)chunks));
    }

    /// <summary>
    /// q, k and v's offsets and leading strides in 16-byte quads when key-lane decode attention takes them: head dims
    /// whole quads of at most <see cref="DecodeAttentionKernels.MaxHeadDim"/>, a value row the warp can split
    /// (<see cref="DecodeAttentionKernels.Fits"/>), every offset and stride a whole number of quads and the memory
    /// 16-byte aligned; null otherwise.
    /// </summary>
    private (long[] Q, long[] K, long[] V)? KeyLanes(Frame f, TensorView q, TensorView k, TensorView v, long d, long dv, int perQuad)
    {
        if (d % perQuad != 0 || dv % perQuad != 0 || d > DecodeAttentionKernels.MaxHeadDim || dv > DecodeAttentionKernels.MaxHeadDim) return null;
        if (!DecodeAttentionKernels.Fits((int)(dv / perQuad), device.Accelerator.WarpSize)) return null;
        long[]? Quads(TensorView o)
        {
            if (f.Slots[o.Slot].Offset % 16 != 0) return null;
            long[] r = [f.Eval(o.Offset), f.Eval(o.Strides[0]), f.Eval(o.Strides[1]), f.Eval(o.Strides[2])];
            for (int i = 0; i < r.Length; i++)
            {
                if (r[i] % perQuad != 0) return null;
                r[i] /= perQuad;
            }

            return r;
        }

        return Quads(q) is { } qq && Quads(k) is { } kq && Quads(v) is { } vq ? (qq, kq, vq) : null;
    }

    /// <summary>Threads of an attention group (one query row).</summary>
    private int AttentionGroup => Math.Min(AttentionKernels.GroupSize, device.Accelerator.MaxNumThreadsPerGroup);

    /// <summary>
    /// The threads of a grid-stride elementwise launch: as many as the device keeps resident (at least 65536, where a
    /// driver reports less), or <see cref="ElementwiseLaunch.CpuThreads"/> on ILGPU's CPU accelerator.
    /// </summary>
    private long GridStrideThreads => device.Kind == GpuKind.Cpu
        ? ElementwiseLaunch.CpuThreads
        : Math.Max(1L << 16, (long)device.Accelerator.NumMultiprocessors * Math.Max(device.Accelerator.MaxNumThreadsPerMultiprocessor, device.Accelerator.MaxNumThreadsPerGroup));

    private KernelLauncher Launcher(MethodInfo m) => new(device, m, grouped: false);

    private KernelLauncher GroupLauncher(MethodInfo m) => new(device, m, grouped: true);

    /// <summary>Evaluates <paramref name="dims"/> into <paramref name="into"/> from index <paramref name="at"/>.</summary>
    private static void EvalInto(Frame f, Dim[] dims, long[] into, int at)
    {
        for (int i = 0; i < dims.Length; i++) into[at + i] = f.Eval(dims[i]);
    }

    private static long Product(long[] values)
    {
        long p = 1;
        foreach (var v in values) p *= v;
        return p;
    }

    private Action<Frame> Elementwise(ElementwiseCall e)
    {
        // The capabilities leave out multi-output groups: every call here writes one output.
        if (e.Kernel.Stores.Count > 0) throw new NotSupportedException($"the GPU backend has no multi-output elementwise kernels ({e.Label})");
        string name = kernelNames[e.Kernel];
        var wide = Launcher(generated?.GetMethod(name, Static) ?? throw new InvalidOperationException($"no generated kernel for {e.Label}"));
        bool generalOnly = Environment.GetEnvironmentVariable(ElementwiseLaunch.GeneralOnlyVariable) == "1";
        KernelLauncher? Variant(string suffix) => !generalOnly && generated.GetMethod(name + suffix, Static) is { } m ? Launcher(m) : null;
        var narrow = Variant(ElementwiseKernelEmitter.NarrowSuffix);
        bool autoGroup = Environment.GetEnvironmentVariable(ElementwiseLaunch.AutoGroupVariable) == "1";
        VectorLaunchers? Vectors(string suffix) => generalOnly ? null
            : HardwareHalf && generated.GetMethod(name + suffix + ElementwiseKernelEmitter.HardwareHalfSuffix, Static) is { } h ? new VectorLaunchers(device, h, autoGroup)
            : generated.GetMethod(name + suffix, Static) is { } m ? new VectorLaunchers(device, m, autoGroup) : null;
        bool noUnroll = Environment.GetEnvironmentVariable(ElementwiseLaunch.NoUnrollVariable) == "1";
        int unrollBy = ElementwiseLaunch.VectorUnroll();
        var unrolled = unrollBy > 0 ? Vectors(ElementwiseKernelEmitter.FlatUnrolledBy(unrollBy)) : null;
        var flat = unrolled ?? Vectors(noUnroll ? ElementwiseKernelEmitter.FlatSuffix : ElementwiseKernelEmitter.FlatUnrolledSuffix);
        var rows = Vectors(ElementwiseKernelEmitter.RowsSuffix);
        var inputs = e.Inputs.ToArray();
        var shape = e.Shape;
        var numel = e.Numel;
        int output = e.Output;
        var launch = new ElementwiseLaunch(e.Kernel, GridStrideThreads);
        return f =>
        {
            long count = f.Eval(numel);
            if (count <= 0) return;
            EvalInto(f, shape, launch.Shape, 0);
            var om = f.Slots[output];
            launch.Aligned[^1] = om.Buffer.Address(om.Offset) % 16 == 0;
            for (int k = 0; k < inputs.Length; k++)
            {
                var m = f.Slots[inputs[k].Slot];
                long off = f.Eval(inputs[k].Offset);
                launch.Offsets[k] = off;
                EvalInto(f, inputs[k].Strides, launch.Strides[k], 0);
                launch.Aligned[k] = m.Buffer.Address(m.Offset + (off * launch.ElementSizes[k])) % 16 == 0;
            }

            var plan = launch.Plan(count, flat is not null, rows is not null);
            if (plan.Kind == ElementwiseLaunchKind.General && narrow is not null && launch.FitsNarrow(count)) plan.Kind = ElementwiseLaunchKind.Narrow;
            ElementwiseLaunch.Trace?.Add((plan.Kind, plan.Blocks));
            if (plan.Kind is ElementwiseLaunchKind.Flat or ElementwiseLaunchKind.Rows)
            {
                var v = (plan.Kind == ElementwiseLaunchKind.Flat ? flat : rows)!.For(plan.Threads);
                if (plan.Kind == ElementwiseLaunchKind.Flat && unrolled is not null && v.ResidentThreads() is long resident) plan.Threads = Math.Min(plan.Threads, resident);
                ElementwiseLaunch.KernelTrace?.Add((v.Name, plan.Threads));
                v.Begin().BytesView(om, 0).View(om);
                for (int k = 0; k < inputs.Length; k++)
                {
                    var m = f.Slots[inputs[k].Slot];
                    long off = launch.Offsets[k];
                    v.BytesView(m, plan.Blocks > 0 && launch.Vectorized(k) ? off * launch.ElementSizes[k] : 0).View(m, off);
                }

                v.Arg((int)count).Arg((int)plan.Blocks).Arg((int)plan.Threads).Arg((int)plan.Cols);
                for (int k = 0; k < inputs.Length; k++) v.Arg((int)launch.RowStrides[k]);
                v.Launch(plan.Threads);
                return;
            }

            GeneralArguments(plan.Kind == ElementwiseLaunchKind.Narrow ? narrow! : wide, f, om, inputs, shape.Length, launch).Launch(count);
        };
    }

    /// <summary>
    /// Begins a launch of a general elementwise kernel: the output's view, the inputs' views, the evaluated shape, then
    /// each input's offset and strides (as <paramref name="launch"/> holds them for this run).
    /// </summary>
    private static KernelLauncher GeneralArguments(KernelLauncher l, Frame f, Mem output, KernelOperand[] inputs, int rank, ElementwiseLaunch launch)
    {
        l.Begin().View(output);
        for (int k = 0; k < inputs.Length; k++) l.View(f.Slots[inputs[k].Slot]);
        for (int d = 0; d < rank; d++) l.Arg(launch.Shape[d]);
        for (int k = 0; k < inputs.Length; k++)
        {
            l.Arg(launch.Offsets[k]);
            for (int d = 0; d < rank; d++) l.Arg(launch.Strides[k][d]);
        }

        return l;
    }

    private Action<Frame> Gemm(GemmCall g)
    {
        var epilogue = g.Epilogue is { } epi ? Elementwise(epi) : null;
        var (a, b) = (g.A, g.B);
        var bType = b.StoredDType ?? b.DType;
        var (bElem, bStorage) = Storage(bType, g.Label);
        var tiled = new TiledGemm(GroupLauncher(Generic(typeof(GemmKernels), nameof(GemmKernels.Gemm), typeof(float), typeof(F32Storage), bElem, bStorage, typeof(float), typeof(F32Storage))), 0);
        var gemv = GemvLauncher(DType.F32, bType, DType.F32);
        var gemvWarps = GemvWarpsLauncher(DType.F32, bType, DType.F32);
        return f =>
        {
            long m = f.Eval(g.Rows), n = f.Eval(g.N), k = f.Eval(g.K);
            long aOff = f.Eval(a.Offset), aM = f.Eval(g.ARowStride), aK = f.Eval(a.Strides[^1]);
            long bOff = f.Eval(b.Offset), bK = f.Eval(b.Strides[^2]), bN = f.Eval(b.Strides[^1]);
            var (am, bm, cm) = (f.Slots[a.Slot], f.Slots[b.Slot], f.Slots[g.C]);
            bool gemvFirst = GemvFirst;
            if (m > 0 && n > 0 && !(gemvFirst && TryGemv(gemv, gemvWarps, bType, m, n, k, am, aOff, aM, aK, bm, bOff, bK, bN, cm))
                && !TryCublas(DType.F32, bType, m, n, k, am, aOff, aM, aK, 0, bm, bOff, bK, bN, 0, cm, 1)
                && !(!gemvFirst && TryGemv(gemv, gemvWarps, bType, m, n, k, am, aOff, aM, aK, bm, bOff, bK, bN, cm)))
            {
                Tiled(tiled, am, bm, cm, m, n, k, aOff, aM, aK, bOff, bK, bN);
            }

            epilogue?.Invoke(f);
        };
    }

    private Action<Frame> BatchedMatMul(BatchedMatMulCall c)
    {
        var (a, b) = (c.A, c.B);
        int br = c.BatchShape.Length;
        if (br > GemmKernels.MaxBatchRank) throw new NotSupportedException($"{c.Label}: more than {GemmKernels.MaxBatchRank} batch dims");
        var (elem, storage) = Storage(c.DType, c.Label);
        var tiled = new TiledGemm(GroupLauncher(Generic(typeof(GemmKernels), nameof(GemmKernels.Gemm), elem, storage, elem, storage, elem, storage)), br);
        var gemv = GemvLauncher(c.DType, c.DType, c.DType);
        var gemvWarps = GemvWarpsLauncher(c.DType, c.DType, c.DType);
        var gemvQuads = GemvQuadsLauncher(c.DType);
        var gemvSplit = GemvSplitLauncher(c.DType);
        Dim[] batchA = a.Strides[..br], batchB = b.Strides[..br];
        long[] sizes = new long[br], sa = new long[br], sb = new long[br];
        var split = new BatchSplit(br);
        var pointers = new BatchPointers();
        return f =>
        {
            long m = f.Eval(c.M), n = f.Eval(c.N), k = f.Eval(c.K);
            EvalInto(f, c.BatchShape, sizes, 0);
            EvalInto(f, batchA, sa, 0);
            EvalInto(f, batchB, sb, 0);
            long aOff = f.Eval(a.Offset), aM = f.Eval(a.Strides[^2]), aK = f.Eval(a.Strides[^1]);
            long bOff = f.Eval(b.Offset), bK = f.Eval(b.Strides[^2]), bN = f.Eval(b.Strides[^1]);
            var (am, bm, cm) = (f.Slots[a.Slot], f.Slots[b.Slot], f.Slots[c.C]);
            long batch = Product(sizes);
            if (m == 0 || n == 0 || batch == 0) return;
            var few = gemv is not null ? GemvRows(m, aM, batch, sizes, sa, sb) : null;
            bool gemvFirst = GemvFirst;
            if (gemvFirst && few is (long rows, long rowStride) && TryGemv(gemv, gemvWarps, c.DType, rows, n, k, am, aOff, rowStride, aK, bm, bOff, bK, bN, cm, gemvQuads, gemvSplit))
            {
                return;
            }

            if (split.Split(sizes, sa, sb) && CublasBatches(f, split, pointers, c.DType, m, n, k, am, aOff, aM, aK, bm, bOff, bK, bN, cm))
            {
                return;
            }

            if (!gemvFirst && few is (long rows2, long rowStride2) && TryGemv(gemv, gemvWarps, c.DType, rows2, n, k, am, aOff, rowStride2, aK, bm, bOff, bK, bN, cm, gemvQuads, gemvSplit))
            {
                return;
            }

            tiled.SetBatch(sizes, sa, sb);
            Tiled(tiled, am, bm, cm, m, n, k, aOff, aM, aK, bOff, bK, bN);
        };
    }

    /// <summary>
    /// Whether a few-row product tries <see cref="GemvKernels"/> before cuBLAS: where no cuBLAS is loaded, or where
    /// <see cref="GpuDevice.GemvBeforeLibrary"/> asks for it.
    /// </summary>
    private bool GemvFirst => device.Cublas is null || device.GemvBeforeLibrary;

    /// <summary>
    /// A batched product through cuBLAS's strided-batched call per host-looped index of <paramref name="split"/> (one
    /// call where the batch dims are one uniform walk); false, with nothing issued, where cuBLAS cannot take it.
    /// Capture-safe: launches only, no synchronization or allocation. Unless <see cref="PointerBatchesVariable"/> is 0,
    /// a split that would loop on the host is one <c>cublasGemmBatchedEx</c> call over arrays of the products'
    /// addresses instead (<see cref="BatchPointers"/>: one set per binding, uploaded outside any recording; where a new
    /// set cannot be uploaded the host loop runs).
    /// </summary>
    private bool CublasBatches(Frame f, BatchSplit split, BatchPointers pointers, DType dt, long m, long n, long k, Mem am, long aOff, long aM, long aK, Mem bm, long bOff, long bK, long bN, Mem cm)
    {
        if (!CublasTakes(dt, dt, m, n, k, aM, aK, bK, bN, split.Inner)) return false;
        if (split.OuterCount > 1 && PointerBatches && device.Cublas is { HasPointerBatches: true } blas
            && CublasTakes(dt, dt, m, n, k, aM, aK, bK, bN, split.OuterCount * split.Inner))
        {
            int count = checked((int)(split.OuterCount * split.Inner));
            int size = dt.SizeInBytes();
            pointers.Resize(count);
            var at = pointers.Addresses;
            for (long o = 0, i = 0; o < split.OuterCount; o++)
            {
                var (da, db) = split.Offsets(o);
                for (long j = 0; j < split.Inner; j++, i++)
                {
                    at[(int)i] = am.Pointer(aOff + da + (j * split.InnerA), size);
                    at[count + (int)i] = bm.Pointer(bOff + db + (j * split.InnerB), size);
                    at[(2 * count) + (int)i] = cm.Pointer(i * m * n, size);
                }
            }

            if (pointers.Arrays(f, device) is var (pa, pb, pc))
            {
                bool bT = !(bN == 1 && bK >= Math.Max(1, n));
                bool aT = !(aK == 1 && aM >= Math.Max(1, k));
                device.Accelerator.Bind();
                blas.GemmPointers(dt, (int)m, (int)n, (int)k, pa, aT, aT ? aK : aM, pb, bT, bT ? bN : bK, pc, count);
                return true;
            }
        }

        long perCall = split.Inner * m * n * dt.SizeInBytes();
        for (long o = 0; o < split.OuterCount; o++)
        {
            var (da, db) = split.Offsets(o);
            var c = cm with { Offset = cm.Offset + (o * perCall), Bytes = perCall };
            TryCublas(dt, dt, m, n, k, am, aOff + da, aM, aK, split.InnerA, bm, bOff + db, bK, bN, split.InnerB, c, split.Inner);
        }

        if (GpuTiming.Enabled && split.OuterCount > 1) GpuTiming.Add($"(cuBLAS batched, {split.OuterCount} host-looped calls of {split.Inner}: count only)", 0, 0);
        return true;
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

    /// <summary>
    /// The few-row product's launcher (<see cref="GemvKernels.Gemv{TA, TAS, TB, TBS, TC, TCS, TR}"/>) for these dtypes, or
    /// null where it is turned off (<c>CANDLE_GPU_NO_GEMV=1</c>) or the weight dtype has no pair storage. CUDA and ILGPU's
    /// CPU accelerator widen half weights with ILGPU's half conversion, OpenCL in integer arithmetic.
    /// </summary>
    private KernelLauncher? GemvLauncher(DType aType, DType bType, DType cType)
    {
        if (!device.UseGemv) return null;
        (Type Element, Type Pairs)? b = bType switch
        {
            DType.F32 => (typeof(float), typeof(F32Pairs)),
            DType.F16 => (typeof(uint), device.Kind == GpuKind.OpenCL ? typeof(F16Pairs) : typeof(HalfPairs)),
            DType.BF16 => (typeof(uint), typeof(BF16Pairs)),
            _ => null,
        };
        if (b is not { } pairs) return null;
        var (aElem, aStorage) = Storage(aType, "matmul");
        var (cElem, cStorage) = Storage(cType, "matmul");
        return GroupLauncher(Generic(typeof(GemvKernels), nameof(GemvKernels.Gemv), aElem, aStorage, pairs.Element, pairs.Pairs, cElem, cStorage, device.Reducer));
    }

    /// <summary>
    /// The launcher of the few-row product that reads 16-bit weights 16 bytes a load, one warp per weight row
    /// (<see cref="GemvKernels.GemvWarps{TA, TAS, TW, TC, TCS}"/>), or null: off (<see cref="GpuDevice.UseGemvWarps"/>),
    /// on OpenCL (no warp shuffles there), or for other weight dtypes.
    /// </summary>
    private KernelLauncher? GemvWarpsLauncher(DType aType, DType bType, DType cType)
    {
        if (!device.UseGemv || !device.UseGemvWarps || device.Kind == GpuKind.OpenCL || WordPairs(bType) is not { } words) return null;
        var (aElem, aStorage) = Storage(aType, "matmul");
        var (cElem, cStorage) = Storage(cType, "matmul");
        return GroupLauncher(Generic(typeof(GemvKernels), nameof(GemvKernels.GemvWarps), aElem, aStorage, words, cElem, cStorage));
    }

    /// <summary>
    /// The launcher of the few-row product whose activations and weights are both 16-bit of one dtype, read 16 bytes a
    /// load (<see cref="GemvKernels.GemvQuads{TW, TC, TCS}"/>), or null: for other dtypes, on OpenCL, or where the
    /// few-row kernels are off or limited to pair loads (<see cref="GpuDevice.UseGemvQuads"/>).
    /// </summary>
    private KernelLauncher? GemvQuadsLauncher(DType dtype)
    {
        if (!device.UseGemv || !device.UseGemvWarps || !device.UseGemvQuads || device.Kind == GpuKind.OpenCL || WordPairs(dtype) is not { } words) return null;
        var (cElem, cStorage) = Storage(dtype, "matmul");
        return WithStaged(GroupLauncher(Generic(typeof(GemvKernels), DeepGemv ? nameof(GemvKernels.GemvQuadsDeep) : nameof(GemvKernels.GemvQuads), words, cElem, cStorage)), dtype, typeof(NoGate));
    }

    /// <summary>The <see cref="IWordPairs"/> that widens 32-bit words of two 16-bit floats of this dtype, or null for other dtypes.</summary>
    private static Type? WordPairs(DType dt) => dt switch
    {
        DType.F16 => typeof(HalfPairs),
        DType.BF16 => typeof(BF16Pairs),
        _ => null,
    };

    /// <summary>
    /// The activation rows and their stride when a batched product is a few-row product against one weight: a single
    /// batch (its <paramref name="m"/> rows), or one row per batch with the weight shared (batch stride 0) and the rows
    /// one stride apart; null otherwise.
    /// </summary>
    private static (long Rows, long RowStride)? GemvRows(long m, long aM, long batch, long[] sizes, long[] sa, long[] sb)
    {
        if (batch == 1) return (m, aM);
        if (m != 1) return null;
        for (int d = 0; d < sb.Length; d++)
        {
            if (sizes[d] != 1 && sb[d] != 0) return null;
        }

        return Uniform(sizes, sa) is long stride ? (batch, stride) : null;
    }

    /// <summary>
    /// Launches the few-row product when it serves the call: at most <see cref="GemvKernels.MaxRows"/> rows with
    /// contiguous elements, the weight's rows contiguous along k (nn.Linear's [n, k] layout) at even offsets and strides
    /// with an even k, and 16-bit weights in memory aligned for their pairs' 32-bit loads; <paramref name="warps"/>, the
    /// warp-per-row kernel, takes it instead where the weight memory is 16-byte aligned and k, the offset and the row
    /// stride are multiples of 8; <paramref name="quads"/> (activations of the weight's 16-bit dtype, also read 16 bytes a
    /// load, two weight rows a warp) takes it before both where the activations' memory, offset and row stride are
    /// aligned the same way, and <paramref name="split"/>, its split-K form, before that where it splits this launch.
    /// </summary>
    private bool TryGemv(KernelLauncher? l, KernelLauncher? warps, DType bType, long m, long n, long k, Mem am, long aOff, long aM, long aK, Mem bm, long bOff, long bK, long bN, Mem cm, KernelLauncher? quads = null, SplitGemv? split = null)
    {
        if (l is null || m < 1 || m > GemvKernels.MaxRows || k < 2 || n > int.MaxValue || k > int.MaxValue) return false;
        if ((aK != 1 && k > 1) || bK != 1 || k % 2 != 0 || bOff % 2 != 0 || bN % 2 != 0 || bN < k) return false;
        if (bType != DType.F32 && bm.Offset % 4 != 0) return false;
        int warp = device.Accelerator.WarpSize;
        int warpGroup = Math.Min(GemvKernels.WarpRowsGroupSize, device.Accelerator.MaxNumThreadsPerGroup) / warp * warp;
        bool weightQuads = warpGroup > 0 && k % 8 == 0 && bOff % 8 == 0 && bN % 8 == 0 && bm.Offset % 16 == 0;
        if (quads is not null && weightQuads && aOff % 8 == 0 && (m == 1 || aM % 8 == 0) && am.Offset % 16 == 0)
        {
            if (split is not null && TrySplitGemv(split, warpGroup, m, n, k, am, aOff, aM, bm, bOff, bN, cm)) return true;
            if (TryStagedQuads(quads, bType, m, n, k, am, aOff, aM, bm, bOff, bN, cm)) return true;
            long warpsNeeded = (n + GemvKernels.QuadRowsPerWarp - 1) / GemvKernels.QuadRowsPerWarp;
            int perGroup = warpGroup / warp;
            var qconfig = new KernelConfig(new Index1D((int)((warpsNeeded + perGroup - 1) / perGroup)), new Index1D(warpGroup));
            quads.Begin().View(am).View(bm).View(cm).Arg((int)m).Arg((int)n).Arg((int)(k / 8)).Arg(aOff / 8).Arg(aM / 8).Arg(bOff / 8).Arg(bN / 8).Launch(qconfig);
            return true;
        }

        if (warps is not null && weightQuads)
        {
            int perGroup = warpGroup / warp;
            var wconfig = new KernelConfig(new Index1D((int)((n + perGroup - 1) / perGroup)), new Index1D(warpGroup));
            warps.Begin().View(am).View(bm).View(cm).Arg((int)m).Arg((int)n).Arg((int)k).Arg(aOff).Arg(aM).Arg(bOff).Arg(bN).Launch(wconfig);
            return true;
        }

        int group = Math.Min(GemvKernels.GroupSize, device.Accelerator.MaxNumThreadsPerGroup);
        var config = new KernelConfig(new Index1D((int)n), new Index1D(group));
        l.Begin().View(am).View(bm).View(cm).Arg((int)m).Arg((int)n).Arg((int)k).Arg(aOff).Arg(aM).Arg(bOff).Arg(bN).Launch(config);
        return true;
    }

    /// <summary>Whether <see cref="TryCublas"/> takes a product of these dtypes, sizes and operand strides.</summary>
    private bool CublasTakes(DType aType, DType bType, long m, long n, long k, long aM, long aK, long bK, long bN, long batch)
    {
        if (device.Cublas is null || aType != bType || Cublas.DataType(aType) < 0 || k == 0) return false;
        if (m > int.MaxValue || n > int.MaxValue || k > int.MaxValue || batch > int.MaxValue) return false;
        bool b = (bN == 1 && bK >= Math.Max(1, n)) || (bK == 1 && bN >= Math.Max(1, k));
        bool a = (aK == 1 && aM >= Math.Max(1, k)) || (aM == 1 && aK >= Math.Max(1, m));
        return a && b;
    }

    private bool TryCublas(DType aType, DType bType, long m, long n, long k, Mem am, long aOff, long aM, long aK, long strideA, Mem bm, long bOff, long bK, long bN, long strideB, Mem cm, long batch)
    {
        var blas = device.Cublas;
        if (blas is null || !CublasTakes(aType, bType, m, n, k, aM, aK, bK, bN, batch)) return false;

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

    private void Tiled(TiledGemm g, Mem am, Mem bm, Mem cm, long m, long n, long k, long aOff, long aM, long aK, long bOff, long bK, long bN)
    {
        long batch = Product(g.Sizes);
        if (GpuTiming.Enabled) GpuTiming.Add($"(tiled GEMM fallback {m}x{n}x{k}, batch {batch}: count only)", 0, 0);
        int tile = TileEdge;
        var config = new KernelConfig(
            new Index3D((int)((n + tile - 1) / tile), (int)((m + tile - 1) / tile), checked((int)batch)),
            new Index3D(tile, tile, 1));
        var l = g.Launcher.Begin().View(am).View(bm).View(cm).Arg((int)m).Arg((int)n).Arg((int)k).Arg(aOff).Arg(aM).Arg(aK).Arg(bOff).Arg(bK).Arg(bN);
        foreach (var v in g.Sizes) l.Arg(v);
        foreach (var v in g.StridesA) l.Arg(v);
        foreach (var v in g.StridesB) l.Arg(v);
        l.Launch(config);
    }

    /// <summary>The tiled GEMM's launcher and its batch arguments padded to <see cref="GemmKernels.MaxBatchRank"/> dims (leading size 1, stride 0).</summary>
    private sealed class TiledGemm(KernelLauncher launcher, int batchRank)
    {
        private readonly int _pad = GemmKernels.MaxBatchRank - batchRank;

        public KernelLauncher Launcher { get; } = launcher;

        public long[] Sizes { get; } = [1, 1, 1, 1];

        public long[] StridesA { get; } = new long[GemmKernels.MaxBatchRank];

        public long[] StridesB { get; } = new long[GemmKernels.MaxBatchRank];

        public void SetBatch(long[] sizes, long[] sa, long[] sb)
        {
            sizes.CopyTo(Sizes, _pad);
            sa.CopyTo(StridesA, _pad);
            sb.CopyTo(StridesB, _pad);
        }
    }

    private Action<Frame> Attention(AttentionCall c)
    {
        var (q, k, v, mask) = (c.Q, c.K, c.V, c.Mask);
        var (elem, storage) = Storage(c.DType, c.Label);
        var (mElem, mStorage) = mask is null ? (typeof(byte), typeof(BoolStorage)) : Storage(mask.DType, c.Label + " mask");
        var full = GroupLauncher(Generic(typeof(AttentionKernels), nameof(AttentionKernels.Attention), elem, storage, mElem, mStorage, device.Reducer));
        // Split-K decode on CUDA and on ILGPU's CPU accelerator (which tests it); OpenCL keeps one group per row.
        bool splits = device.Kind != GpuKind.OpenCL;
        var partial = splits ? GroupLauncher(Generic(typeof(AttentionKernels), nameof(AttentionKernels.DecodePartial), elem, storage, mElem, mStorage, device.Reducer)) : null;
        var combine = splits ? GroupLauncher(Generic(typeof(AttentionKernels), nameof(AttentionKernels.DecodeCombine), elem, storage)) : null;
        Type? quads = !splits ? null : c.DType switch
        {
            DType.F32 => typeof(F32Quads),
            DType.F16 => typeof(WordQuads<HalfPairs>),
            DType.BF16 => typeof(WordQuads<BF16Pairs>),
            _ => null,
        };
        var chunked = quads is null ? null : GroupLauncher(Generic(typeof(DecodeAttentionKernels), nameof(DecodeAttentionKernels.Chunks), quads, mElem, mStorage));
        var merge = quads is null ? null : GroupLauncher(Generic(typeof(DecodeAttentionKernels), nameof(DecodeAttentionKernels.Merge), elem, storage));
        var merged = quads is null || !OneLaunchDecode ? null : GroupLauncher(Generic(typeof(DecodeAttentionKernels), nameof(DecodeAttentionKernels.ChunksMerged), quads, mElem, mStorage, elem, storage));
        int perQuad = c.DType == DType.F32 ? 4 : 8;
        int early = EarlyDecodeValues ? 1 : 0;
        var flash = FlashLauncher(c);
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
            if (flash is not null && sq > DecodeRows && FlashShape(d, dv) is var (rowsPerGroup, threadsPerRow, groupSize))
            {
                FlashAttention(flash, c, f, bsz * heads, sq, rowsPerGroup, threadsPerRow, groupSize);
                return;
            }

            var mm = mask is null ? new Mem(f.Scratch!, 0, 16) : f.Slots[mask.Slot];
            if (chunked is not null && sq <= DecodeRows
                && KeyLanes(f, q, k, v, d, dv, perQuad) is var (qq, kq, vq)
                && DecodeKeySplit(rows, sk, DecodeMultiprocessors, device.Accelerator.WarpSize) is var (kChunk, kChunks) && kChunks > 1)
            {
                // Few query rows over a cache (decode), keys over the lanes of a warp: chunk partials, then one merge per
                // row, by the row's last group in the same launch (merged) or by a second launch.
                int warp = device.Accelerator.WarpSize;
                var kpart = f.Workspace(checked(rows * kChunks * (dv + 2) * sizeof(float)));
                var one = merged is not null;
                var kl = one ? merged! : chunked;
                kl.Begin().View(f.Slots[q.Slot]).View(f.Slots[k.Slot]).View(f.Slots[v.Slot]).View(mm).View(kpart);
                if (one) kl.View(f.Counters(rows)).View(f.Slots[c.Y]);
                kl.Arg(qq[0]).Arg(qq[1]).Arg(qq[2]).Arg(qq[3]).Arg(kq[0]).Arg(kq[1]).Arg(kq[2]).Arg(kq[3]).Arg(vq[0]).Arg(vq[1]).Arg(vq[2]).Arg(vq[3]);
                if (mask is null) kl.Arg(0L).Arg(0L).Arg(0L).Arg(0L).Arg(0L);
                else kl.Arg(f.Eval(mask.Offset)).Arg(f.Eval(mask.Strides[0])).Arg(f.Eval(mask.Strides[1])).Arg(f.Eval(mask.Strides[2])).Arg(f.Eval(mask.Strides[3]));
                kl.Arg((int)heads).Arg((int)kvHeads).Arg((int)sq).Arg((int)sk).Arg((int)d).Arg((int)dv).Arg((float)c.Scale).Arg(c.Causal ? 1 : 0).Arg(mask is null ? 0 : 1)
                    .Arg(mask?.DType == DType.Bool ? 1 : 0).Arg(kChunk).Arg(kChunks).Arg(early)
                    .Launch(new KernelConfig(new Index1D(checked((int)(rows * kChunks))), new Index1D(warp)));
                if (one) return;
                merge!.Begin().View(kpart).View(f.Slots[c.Y]).Arg(kChunks).Arg((int)dv).Launch(new KernelConfig(new Index1D(checked((int)rows)), new Index1D(warp)));
                return;
            }

            // Few query rows over a cache (decode): the keys split into chunks whose partials are merged after.
            var (chunk, chunks) = DecodeSplit(rows, sk, DecodeMultiprocessors);
            bool split = partial is not null && sq <= DecodeRows && chunks > 1;
            var l = split ? partial! : full;
            var part = split ? f.Workspace(checked(rows * chunks * (dv + 2) * sizeof(float))) : default;
            l.Begin().View(f.Slots[q.Slot]).View(f.Slots[k.Slot]).View(f.Slots[v.Slot]).View(mm).View(split ? part : f.Slots[c.Y])
                .Arg(f.Eval(q.Offset)).Arg(f.Eval(q.Strides[0])).Arg(f.Eval(q.Strides[1])).Arg(f.Eval(q.Strides[2]))
                .Arg(f.Eval(k.Offset)).Arg(f.Eval(k.Strides[0])).Arg(f.Eval(k.Strides[1])).Arg(f.Eval(k.Strides[2]))
                .Arg(f.Eval(v.Offset)).Arg(f.Eval(v.Strides[0])).Arg(f.Eval(v.Strides[1])).Arg(f.Eval(v.Strides[2]));
            if (mask is null) l.Arg(0L).Arg(0L).Arg(0L).Arg(0L).Arg(0L);
            else l.Arg(f.Eval(mask.Offset)).Arg(f.Eval(mask.Strides[0])).Arg(f.Eval(mask.Strides[1])).Arg(f.Eval(mask.Strides[2])).Arg(f.Eval(mask.Strides[3]));
            l.Arg((int)heads).Arg((int)kvHeads).Arg((int)sq).Arg((int)sk).Arg((int)d).Arg((int)dv).Arg((float)c.Scale).Arg(c.Causal ? 1 : 0).Arg(mask is null ? 0 : 1)
                .Arg(mask?.DType == DType.Bool ? 1 : 0);
            if (!split)
            {
                l.Launch(new KernelConfig(new Index1D(checked((int)rows)), new Index1D(group)));
                return;
            }

            l.Arg(chunk).Arg(chunks).Launch(new KernelConfig(new Index1D(checked((int)(rows * chunks))), new Index1D(group)));
            combine!.Begin().View(part).View(f.Slots[c.Y]).Arg(chunks).Arg((int)dv)
                .Launch(new KernelConfig(new Index1D(checked((int)rows)), new Index1D(group)));
        };
    }

    /// <summary>
    /// The tiled prefill attention's launcher (<see cref="FlashAttentionKernels.Attention{T, TS, TM, TMS}"/>), or null
    /// on OpenCL, which keeps one group per query row.
    /// </summary>
    private KernelLauncher? FlashLauncher(AttentionCall c)
    {
        if (device.Kind == GpuKind.OpenCL) return null;
        var (elem, storage) = Storage(c.DType, c.Label);
        var (mElem, mStorage) = c.Mask is null ? (typeof(byte), typeof(BoolStorage)) : Storage(c.Mask.DType, c.Label + " mask");
        return GroupLauncher(Generic(typeof(FlashAttentionKernels), nameof(FlashAttentionKernels.Attention), elem, storage, mElem, mStorage));
    }

    /// <summary>Threads of a tiled attention group where the device allows it (32 rows of 4 threads).</summary>
    private const int FlashGroup = 128;

    /// <summary>
    /// The query rows, threads per row and group size of the tiled attention for head dims <paramref name="d"/> and
    /// <paramref name="dv"/>: enough threads per row (a power of two) that each accumulates at most
    /// <see cref="FlashAttentionKernels.PerThread"/> dims, and as many rows as the group then holds (up to
    /// <see cref="FlashAttentionKernels.Rows"/>); null for head dims above <see cref="FlashAttentionKernels.MaxDim"/>
    /// or groups too small.
    /// </summary>
    internal (int Rows, int ThreadsPerRow, int Group)? FlashShape(long d, long dv)
    {
        long dims = Math.Max(d, dv);
        if (dims > FlashAttentionKernels.MaxDim || dims < 1) return null;
        int group = Math.Min(FlashGroup, device.Accelerator.MaxNumThreadsPerGroup);
        int tpr = 1;
        while (tpr * FlashAttentionKernels.PerThread < dims || tpr * FlashAttentionKernels.Rows < group) tpr *= 2;
        int rows = Math.Min(FlashAttentionKernels.Rows, group / tpr);
        if (rows < 1) return null;
        return (rows, tpr, rows * tpr);
    }

    private static void FlashAttention(KernelLauncher l, AttentionCall c, Frame f, long batchHeads, long sq, int rowsPerGroup, int threadsPerRow, int group)
    {
        var (q, k, v, mask) = (c.Q, c.K, c.V, c.Mask);
        var mm = mask is null ? new Mem(f.Scratch!, 0, 16) : f.Slots[mask.Slot];
        l.Begin().View(f.Slots[q.Slot]).View(f.Slots[k.Slot]).View(f.Slots[v.Slot]).View(mm).View(f.Slots[c.Y])
            .Arg(f.Eval(q.Offset)).Arg(f.Eval(q.Strides[0])).Arg(f.Eval(q.Strides[1])).Arg(f.Eval(q.Strides[2]))
            .Arg(f.Eval(k.Offset)).Arg(f.Eval(k.Strides[0])).Arg(f.Eval(k.Strides[1])).Arg(f.Eval(k.Strides[2]))
            .Arg(f.Eval(v.Offset)).Arg(f.Eval(v.Strides[0])).Arg(f.Eval(v.Strides[1])).Arg(f.Eval(v.Strides[2]));
        if (mask is null) l.Arg(0L).Arg(0L).Arg(0L).Arg(0L).Arg(0L);
        else l.Arg(f.Eval(mask.Offset)).Arg(f.Eval(mask.Strides[0])).Arg(f.Eval(mask.Strides[1])).Arg(f.Eval(mask.Strides[2])).Arg(f.Eval(mask.Strides[3]));
        long heads = f.Eval(q.Shape[1]), kvHeads = f.Eval(k.Shape[1]), sk = f.Eval(k.Shape[2]), d = f.Eval(q.Shape[3]), dv = f.Eval(v.Shape[3]);
        long tiles = (sq + rowsPerGroup - 1) / rowsPerGroup;
        l.Arg((int)heads).Arg((int)kvHeads).Arg((int)sq).Arg((int)sk).Arg((int)d).Arg((int)dv).Arg((float)c.Scale).Arg(c.Causal ? 1 : 0).Arg(mask is null ? 0 : 1)
            .Arg(mask?.DType == DType.Bool ? 1 : 0).Arg(rowsPerGroup).Arg(threadsPerRow)
            .Launch(new KernelConfig(new Index1D(checked((int)(batchHeads * tiles))), new Index1D(group)));
    }

    private Action<Frame> Norm(NormCall c)
    {
        var (elem, storage) = Storage(c.DType, c.Label);
        bool layer = c.Op == Op.LayerNorm;
        if (layer && c.Residual >= 0) throw new NotSupportedException($"{c.Label}: a layer_norm with a residual");
        var l = GroupLauncher(Generic(typeof(RowKernels), layer ? nameof(RowKernels.LayerNorm) : nameof(RowKernels.RmsNorm), elem, storage, device.Reducer, RowCache));
        var octets = OctetStorage(c.DType) is { } os ? GroupLauncher(Generic(typeof(RowKernels), layer ? nameof(RowKernels.LayerNormOctets) : nameof(RowKernels.RmsNormOctets), os, device.Reducer, RowCache)) : null;
        var held = !layer && HeldRows && OctetStorage(c.DType) is { } hs ? GroupLauncher(Generic(typeof(HeldRowKernels), nameof(HeldRowKernels.RmsNorm), hs, device.Reducer)) : null;
        var pipelined = PipelinedNorm(c);
        return f =>
        {
            long rows = f.Eval(c.Rows), len = f.Eval(c.RowLength);
            if (rows == 0 || pipelined?.Invoke(f, rows, len) == true) return;
            var x = f.Slots[c.X];
            var w = c.Weight >= 0 ? f.Slots[c.Weight] : x;
            var b = c.Bias >= 0 ? f.Slots[c.Bias] : x;
            if (held is not null && len % 8 == 0 && HeldGroup(rows, len / 8, held) is int hg and > 0)
            {
                var (y, residual, sum) = (f.Slots[c.Y], c.Residual >= 0 ? f.Slots[c.Residual] : x, c.Sum >= 0 ? f.Slots[c.Sum] : x);
                if (Aligned(x) && Aligned(w) && Aligned(residual) && Aligned(sum) && Aligned(y))
                {
                    held.Begin().BytesView(x, 0).BytesView(w, 0).BytesView(residual, 0).BytesView(sum, 0).BytesView(y, 0)
                        .Arg(checked((int)(len / 8))).Arg(c.Weight >= 0 ? 1 : 0).Arg(c.Residual >= 0 ? 1 : 0).Arg((float)c.Eps)
                        .Launch(new KernelConfig(new Index1D(checked((int)rows)), new Index1D(hg)));
                    return;
                }
            }

            var (config, cached) = RowConfig(rows, len);
            if (octets is not null && len % 8 == 0)
            {
                var y = f.Slots[c.Y];
                if (layer && Aligned(x) && Aligned(w) && Aligned(b) && Aligned(y))
                {
                    octets.Begin().BytesView(x, 0).BytesView(w, 0).BytesView(b, 0).BytesView(y, 0)
                        .Arg(checked((int)(len / 8))).Arg(c.Weight >= 0 ? 1 : 0).Arg(c.Bias >= 0 ? 1 : 0).Arg((float)c.Eps).Arg(cached).Launch(config);
                    return;
                }

                var residual = c.Residual >= 0 ? f.Slots[c.Residual] : x;
                var sum = c.Sum >= 0 ? f.Slots[c.Sum] : x;
                if (!layer && Aligned(x) && Aligned(w) && Aligned(residual) && Aligned(sum) && Aligned(y))
                {
                    octets.Begin().BytesView(x, 0).BytesView(w, 0).BytesView(residual, 0).BytesView(sum, 0).BytesView(y, 0)
                        .Arg(checked((int)(len / 8))).Arg(c.Weight >= 0 ? 1 : 0).Arg(c.Residual >= 0 ? 1 : 0).Arg((float)c.Eps).Arg(cached).Launch(config);
                    return;
                }
            }

            l.Begin().View(x).View(w);
            if (layer) l.View(b);
            else l.View(c.Residual >= 0 ? f.Slots[c.Residual] : x).View(c.Sum >= 0 ? f.Slots[c.Sum] : x);
            l.View(f.Slots[c.Y]).Arg(checked((int)len)).Arg(c.Weight >= 0 ? 1 : 0);
            if (layer) l.Arg(c.Bias >= 0 ? 1 : 0);
            else l.Arg(c.Residual >= 0 ? 1 : 0);
            l.Arg((float)c.Eps).Arg(cached).Launch(config);
        };
    }

    private Action<Frame> Softmax(RowCall c)
    {
        var (elem, storage) = Storage(c.XType, c.Label);
        var l = GroupLauncher(Generic(typeof(RowKernels), nameof(RowKernels.Softmax), elem, storage, device.Reducer, RowCache));
        var octets = OctetStorage(c.XType) is { } os ? GroupLauncher(Generic(typeof(RowKernels), nameof(RowKernels.SoftmaxOctets), os, device.Reducer, RowCache)) : null;
        var held = HeldRows && OctetStorage(c.XType) is { } hs ? GroupLauncher(Generic(typeof(HeldRowKernels), nameof(HeldRowKernels.Softmax), hs, device.Reducer)) : null;
        int log = c.Op == Op.LogSoftmax ? 1 : 0;
        var pipelined = PipelinedSoftmax(c);
        return f =>
        {
            long rows = f.Eval(c.Rows), len = f.Eval(c.RowLength);
            if (rows == 0 || pipelined?.Invoke(f, rows, len) == true) return;
            var (x, y) = (f.Slots[c.X], f.Slots[c.Y]);
            if (held is not null && len % 8 == 0 && Aligned(x) && Aligned(y) && HeldGroup(rows, len / 8, held) is int hg and > 0)
            {
                held.Begin().BytesView(x, 0).BytesView(y, 0).Arg(checked((int)(len / 8))).Arg(log).Launch(new KernelConfig(new Index1D(checked((int)rows)), new Index1D(hg)));
                return;
            }

            var (config, cached) = RowConfig(rows, len);
            if (octets is not null && len % 8 == 0 && Aligned(x) && Aligned(y))
            {
                octets.Begin().BytesView(x, 0).BytesView(y, 0).Arg(checked((int)(len / 8))).Arg(log).Arg(cached).Launch(config);
                return;
            }

            l.Begin().View(x).View(y).Arg(checked((int)len)).Arg(log).Arg(cached).Launch(config);
        };
    }

    /// <summary>
    /// The <see cref="IOctetStorage"/> of a float dtype for the row kernels' octet forms, or null: bool, or
    /// <c>CANDLE_GPU_ROWS_SCALAR=1</c> (the scalar row kernels only, for A/B runs).
    /// </summary>
    private Type? OctetStorage(DType dt) => Environment.GetEnvironmentVariable(RowsScalarVariable) == "1" ? null : dt switch
    {
        DType.F32 => typeof(F32Octets),
        DType.F16 => HardwareHalf ? typeof(HalfOctets) : typeof(F16Octets),
        DType.BF16 => typeof(BF16Octets),
        _ => null,
    };

    /// <summary>
    /// Set to 0, batched products whose batch dims no single stride walks loop on the host over strided-batched cuBLAS
    /// calls instead of one call over address arrays (a GPT-2-small train step on an H100: 33.2–33.4 ms with the loop,
    /// 31.3–31.4 with the arrays).
    /// </summary>
    internal const string PointerBatchesVariable = "CANDLE_GPU_BATCH_POINTERS";

    /// <summary>Whether such products are one call over address arrays (<see cref="PointerBatchesVariable"/>; tests set it).</summary>
    internal static bool PointerBatches { get; set; } = Environment.GetEnvironmentVariable(PointerBatchesVariable) != "0";

    /// <summary>Set to 1, softmax and rms_norm keep the shared-memory cached octet forms instead of the register-held ones (A/B runs).</summary>
    internal const string RowsCachedVariable = "CANDLE_GPU_ROWS_CACHED";

    /// <summary>Whether softmax and rms_norm take <see cref="HeldRowKernels"/> where a row fits (not on OpenCL, nor with <see cref="RowsCachedVariable"/>).</summary>
    private bool HeldRows => device.Kind != GpuKind.OpenCL && Environment.GetEnvironmentVariable(RowsCachedVariable) != "1";

    /// <summary>
    /// The group of a <see cref="HeldRowKernels"/> launch over <paramref name="rows"/> rows of <paramref name="octets"/>
    /// octets, or 0 when a row does not fit: a power of two of at least a warp and at most 1024 (and the device's limit),
    /// about one octet a thread when the rows are fewer than the multiprocessors (a decode step's one row: the shortest
    /// serial work), else about two (more loads in flight a thread, fewer threads in each reduction); at most
    /// <see cref="HeldRowKernels.MaxOctetsPerThread"/>, and no larger than <paramref name="kernel"/> can be launched with
    /// (<see cref="KernelLauncher.MaxGroupSize"/>).
    /// </summary>
    internal int HeldGroup(long rows, long octets, KernelLauncher? kernel = null)
    {
        int max = Math.Min(1024, device.Accelerator.MaxNumThreadsPerGroup);
        if (kernel is not null) max = kernel.MaxGroupSize(max);
        if (max <= 0) return 0;
        int per = rows < device.Accelerator.NumMultiprocessors ? 1 : 2;
        long want = (octets + per - 1) / per;
        int g = Math.Min(device.Accelerator.WarpSize, max);
        while (g < want && g * 2 <= max) g *= 2;
        return (long)g * HeldRowKernels.MaxOctetsPerThread >= octets ? g : 0;
    }

    /// <summary>Set to 1, softmax, rms_norm and layer_norm launch the scalar row kernels only.</summary>
    internal const string RowsScalarVariable = "CANDLE_GPU_ROWS_SCALAR";

    /// <summary>Whether <paramref name="m"/> starts 16-byte aligned on the device.</summary>
    private static bool Aligned(Mem m) => m.Buffer.Address(m.Offset) % 16 == 0;

    private Action<Frame> Reduce(ReduceCall c)
    {
        var (xe, xs) = Storage(c.XType, c.Label);
        var (ye, ys) = Storage(c.YType, c.Label);
        var l = GroupLauncher(Generic(typeof(RowKernels), nameof(RowKernels.Reduce), xe, xs, ye, ys, device.Reducer));
        int op = (int)c.Op.ReduceKernelOp();
        return f =>
        {
            long rows = f.Eval(c.Rows), len = f.Eval(c.RowLength);
            if (rows == 0) return;
            l.Begin().View(f.Slots[c.X]).View(f.Slots[c.Y]).Arg(checked((int)len)).Arg(op)
                .Launch(new KernelConfig(new Index1D(checked((int)rows)), new Index1D(GroupFor(len))));
        };
    }

    /// <summary>
    /// A sum or mean over leading rows (<see cref="ColumnKernels"/>): the partials of each row chunk into the step
    /// workspace, then each column's partials added in order. Over the products of two buffers
    /// (<see cref="ColumnReduceCall.X2"/>: a layer norm's weight gradient) the partials form the products as they read
    /// them (<see cref="ColumnKernels.PartialProduct{TX, TXS}"/>), so the product is never written.
    /// </summary>
    private Action<Frame> ColumnReduce(ColumnReduceCall c)
    {
        var (xe, xs) = FloatStorage(c.XType, c.Label);
        var (ye, ys) = FloatStorage(c.YType, c.Label);
        bool product = c.X2 >= 0;
        var partial = GroupLauncher(Generic(typeof(ColumnKernels), product ? nameof(ColumnKernels.PartialProduct) : nameof(ColumnKernels.Partial), xe, xs));
        var finish = Launcher(Generic(typeof(ColumnKernels), nameof(ColumnKernels.Finish), ye, ys));
        bool mean = c.Op == Op.Mean;
        int group = Math.Min(ColumnKernels.GroupSize, device.Accelerator.MaxNumThreadsPerGroup);
        int width = Math.Min(ColumnKernels.Columns, group);
        int lanes = group / width;
        return f =>
        {
            long rows = f.Eval(c.Rows), columns = f.Eval(c.Columns);
            if (columns == 0) return;
            if (rows > int.MaxValue || columns > int.MaxValue)
            {
                throw new NotSupportedException($"{c.Label}: a column sum of [{rows}, {columns}] exceeds the kernel's 32-bit row and column indices");
            }

            var (chunks, chunkRows) = ColumnKernels.Chunks(rows, columns, width, lanes);
            var part = f.Workspace(checked(chunks * columns * sizeof(float)));
            int tiles = checked((int)((columns + width - 1) / width));
            var l = partial.Begin().View(f.Slots[c.X]);
            if (product) l.View(f.Slots[c.X2]);
            l.View(part).Arg((int)rows).Arg((int)columns).Arg(chunkRows).Arg(tiles).Arg(width)
                .Launch(new KernelConfig(new Index1D(checked(tiles * chunks)), new Index1D(width * lanes)));
            finish.Begin().View(part).View(f.Slots[c.Y]).Arg((int)columns).Arg(chunks).Arg(mean ? (float)rows : 1f).Launch(columns);
        };
    }

    /// <summary>A 1-D or 2-D convolution or transposed convolution (<see cref="ConvKernels.Conv{T, TS}"/>).</summary>
    private Action<Frame> Conv(ConvCall c)
    {
        var (x, w, a) = (c.X, c.W, c.Attrs);
        if (c.HasEpilogue) throw new NotSupportedException($"{c.Label}: the GPU convolution takes no residual or ReLU epilogue (the backend does not fuse conv_epilogue groups)");
        int spatial = x.Rank - 2;
        if (spatial is < 1 or > 2 || w.Rank != x.Rank || c.OutShape.Length != x.Rank)
        {
            throw new NotSupportedException($"{c.Label}: the GPU convolution takes 1-D or 2-D operands, got x of rank {x.Rank}");
        }

        var (elem, storage) = Storage(c.DType, c.Label);
        var l = Launcher(Generic(typeof(ConvKernels), nameof(ConvKernels.Conv), elem, storage));
        int At(IntList v, int i) => spatial == 2 ? v[i] : i == 0 ? 0 : v[0];
        int Attr(IntList v, int i, int fallback) => spatial == 2 ? v[i] : i == 0 ? fallback : v[0];
        int sh = Attr(a.Stride, 0, 1), sw = Attr(a.Stride, 1, 1), ph = At(a.Padding, 0), pw = At(a.Padding, 1), dh = Attr(a.Dilation, 0, 1), dw = Attr(a.Dilation, 1, 1);
        bool transpose = c.Op == Op.ConvTranspose;
        Dim one = Dim.One;
        Dim inH = spatial == 2 ? x.Shape[2] : one, kH = spatial == 2 ? w.Shape[2] : one, outH = spatial == 2 ? c.OutShape[2] : one;
        Dim inW = x.Shape[^1], kW = w.Shape[^1], outW = c.OutShape[^1];
        var numel = c.OutShape.Aggregate(Dim.One, (p, d) => p * d);
        return f =>
        {
            long inC = f.Eval(x.Shape[1]), outC = f.Eval(c.OutShape[1]);
            if (inC % a.Groups != 0 || outC % a.Groups != 0)
            {
                throw new ArgumentException($"{c.Label}: {inC} input and {outC} output channels do not split into {a.Groups} groups");
            }

            l.Begin().View(f.Slots[x.Slot]).View(f.Slots[w.Slot]).View(c.Bias >= 0 ? f.Slots[c.Bias] : new Mem(f.Scratch!, 0, 16)).View(f.Slots[c.Y])
                .Arg(f.Eval(x.Offset)).Arg(f.Eval(w.Offset)).Arg(c.Bias >= 0 ? 1 : 0).Arg(transpose ? 1 : 0)
                .Arg(checked((int)inC)).Arg(checked((int)outC)).Arg(a.Groups)
                .Arg(checked((int)f.Eval(inH))).Arg(checked((int)f.Eval(inW))).Arg(checked((int)f.Eval(kH))).Arg(checked((int)f.Eval(kW)))
                .Arg(checked((int)f.Eval(outH))).Arg(checked((int)f.Eval(outW)))
                .Arg(sh).Arg(sw).Arg(ph).Arg(pw).Arg(dh).Arg(dw)
                .Launch(f.Eval(numel));
        };
    }

    private Action<Frame> Rope(RopeCall c)
    {
        var (elem, storage) = Storage(c.DType, c.Label);
        var l = Launcher(Generic(typeof(AttentionKernels), nameof(AttentionKernels.Rope), elem, storage));
        var (x, cos, sin) = (c.X, c.Cos, c.Sin);
        if (x.IsConstant || cos.IsConstant || sin.IsConstant) throw new NotSupportedException($"{c.Label}: a constant operand");
        if (x.Rank == 0 || cos.Rank != x.Rank || sin.Rank != x.Rank) throw new NotSupportedException($"{c.Label}: x and the tables differ in rank");
        var (lead, strides) = Scheduler.Collapse(x.Shape[..^1], [x.Strides[..^1], cos.Strides[..^1], sin.Strides[..^1]]);
        if (lead.Length > AttentionKernels.RopeRank) throw new NotSupportedException($"{c.Label}: rows over more than {AttentionKernels.RopeRank} dims after collapsing");
        int pad = AttentionKernels.RopeRank - lead.Length;
        long[] n = [1, 1, 1];
        long[][] st = [new long[AttentionKernels.RopeRank], new long[AttentionKernels.RopeRank], new long[AttentionKernels.RopeRank]];
        TensorView[] ops = [x, cos, sin];
        return f =>
        {
            long rows = f.Eval(c.Rows), hd = f.Eval(c.HeadDim);
            if (rows == 0) return;
            EvalInto(f, lead, n, pad);
            for (int k = 0; k < 3; k++) EvalInto(f, strides[k], st[k], pad);
            l.Begin().View(f.Slots[x.Slot]).View(f.Slots[cos.Slot]).View(f.Slots[sin.Slot]).View(f.Slots[c.Y])
                .Arg(checked((int)hd)).Arg(c.Interleaved ? 1 : 0).Arg(n[1]).Arg(n[2]);
            for (int k = 0; k < 3; k++)
            {
                l.Arg(f.Eval(ops[k].Offset)).Arg(st[k][0]).Arg(st[k][1]).Arg(st[k][2]).Arg(f.Eval(ops[k].Strides[^1]));
            }

            l.Launch(rows * (hd / 2));
        };
    }

    /// <summary>
    /// The parts of a <see cref="RopeRowsCall"/> in one launch of <see cref="RopeRowKernels.Rows{T, TS}"/>: each part's
    /// leading dims collapsed over its x, table and output strides (a copying part's tables are read nowhere), the
    /// threads split over the parts by their pair counts; absent parts are empty.
    /// </summary>
    private Action<Frame> RopeRows(RopeRowsCall c)
    {
        var (elem, storage) = Storage(c.DType, c.Label);
        var l = Launcher(Generic(typeof(RopeRowKernels), nameof(RopeRowKernels.Rows), elem, storage));
        if (c.Parts.Count is 0 or > Scheduler.MaxRopeParts) throw new NotSupportedException($"{c.Label}: {c.Parts.Count} parts (1 to {Scheduler.MaxRopeParts} are supported)");
        const int R = Scheduler.RopePartRank;
        var parts = c.Parts.Select(p =>
        {
            if (p.X.IsConstant || p.Y.IsConstant || p.Cos?.IsConstant == true || p.Sin?.IsConstant == true) throw new NotSupportedException($"{c.Label}: a constant operand");
            var tables = p.Rotates ? new[] { p.Cos!, p.Sin! } : [p.X, p.X];
            if (p.X.Rank == 0 || p.Y.Rank != p.X.Rank || tables.Any(t => t.Rank != p.X.Rank)) throw new NotSupportedException($"{c.Label}: x, the tables and the output differ in rank");
            var (lead, strides) = Scheduler.Collapse(p.X.Shape[..^1], [p.X.Strides[..^1], tables[0].Strides[..^1], tables[1].Strides[..^1], p.Y.Strides[..^1]]);
            if (lead.Length > R) throw new NotSupportedException($"{c.Label}: rows over more than {R} dims after collapsing");
            TensorView[] ops = [p.X, tables[0], tables[1], p.Y];
            return (Part: p, Lead: lead, Strides: strides, Ops: ops);
        }).ToArray();
        if (c.Parts.Where(p => p.Row is not null).Select(p => p.Row!.Slot).Distinct().Count() > 1) throw new NotSupportedException($"{c.Label}: parts with row indices in different buffers");
        if (c.Parts.Any(p => p.Row is { } r && (r.IsConstant || r.DType != DType.I64 || r.Rank != 1))) throw new NotSupportedException($"{c.Label}: row indices that are not an int64 vector");
        long[] n = new long[R];
        long[] st = new long[R];
        long[] ends = new long[Scheduler.MaxRopeParts];
        return f =>
        {
            long hd = f.Eval(c.HeadDim), total = 0;
            for (int k = 0; k < parts.Length; k++)
            {
                total += f.Eval(parts[k].Part.X.Numel) / 2;
                ends[k] = total;
            }

            for (int k = parts.Length; k < ends.Length; k++) ends[k] = total;
            if (total == 0) return;
            var table = parts.FirstOrDefault(p => p.Part.Rotates).Part;
            var (cosMem, sinMem) = table is null ? (f.Slots[parts[0].Part.X.Slot], f.Slots[parts[0].Part.X.Slot]) : (f.Slots[table.Cos!.Slot], f.Slots[table.Sin!.Slot]);
            var rowPart = parts.FirstOrDefault(p => p.Part.Row is not null).Part;
            l.Begin().View(cosMem).View(sinMem).View(rowPart is null ? new Mem(f.Scratch!, 0, 16) : f.Slots[rowPart.Row!.Slot]);
            for (int k = 0; k < Scheduler.MaxRopeParts; k++)
            {
                var p = parts[Math.Min(k, parts.Length - 1)].Part;
                l.View(f.Slots[p.X.Slot]).View(f.Slots[p.Y.Slot]);
            }

            l.Arg(checked((int)hd)).Arg(c.Interleaved ? 1 : 0).Arg(ends[0]).Arg(ends[1]);
            for (int k = 0; k < Scheduler.MaxRopeParts; k++)
            {
                if (k >= parts.Length)
                {
                    l.Arg(0).Arg(1L).Arg(1L);
                    for (int a = 0; a < 20; a++) l.Arg(0L);
                    l.Arg(0).Arg(0L).Arg(0L).Arg(1L).Arg(0L).Arg(0L);
                    continue;
                }

                var (p, lead, strides, ops) = parts[k];
                int pad = R - lead.Length;
                Array.Fill(n, 1L);
                EvalInto(f, lead, n, pad);
                l.Arg(p.Rotates ? 1 : 0).Arg(n[1]).Arg(n[2]);
                for (int o = 0; o < 4; o++)
                {
                    Array.Clear(st);
                    EvalInto(f, strides[o], st, pad);
                    l.Arg(f.Eval(ops[o].Offset)).Arg(st[0]).Arg(st[1]).Arg(st[2]).Arg(f.Eval(ops[o].Strides[^1]));
                }

                if (p.Row is not { } row)
                {
                    l.Arg(0).Arg(0L).Arg(0L).Arg(1L).Arg(0L).Arg(0L);
                    continue;
                }

                long batch = f.Eval(p.RowBatch), rows = f.Eval(p.X.Numel) / hd;
                if (batch <= 0 || rows % batch != 0) throw new InvalidOperationException($"{c.Label}: {rows} rows over {batch} batch entries");
                l.Arg(1).Arg(f.Eval(row.Offset)).Arg(f.Eval(row.Strides[0])).Arg(rows / batch).Arg(f.Eval(p.RowStride)).Arg(f.Eval(p.Capacity));
            }

            l.Launch(total);
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
        var l = Launcher(Generic(typeof(MemoryKernels), name, raw));
        var numel = c.Index.Numel;
        return f =>
        {
            long outer = f.Eval(c.Outer), axis = f.Eval(c.AxisSize), inner = f.Eval(c.Inner), count = f.Eval(numel);
            l.Begin()
                .View(f.Slots[c.X.Slot], f.Eval(c.X.Offset))
                .View(f.Slots[c.Index.Slot], f.Eval(c.Index.Offset))
                .View(f.Slots[c.Y])
                .View(new Mem(f.Scratch!, 0, 16))
                .Arg(axis)
                .Arg(Math.Max(inner, 1))
                .Arg(Math.Max(count, 1))
                .Launch(outer * count * inner);
        };
    }

    private Action<Frame> Copy(CopyCall c)
    {
        var (src, dst) = (c.Src, c.Dst);
        if (src.IsConstant) throw new NotSupportedException($"{c.Label}: a copy from a constant");
        var raw = RawType(src.DType);
        int size = src.DType.SizeInBytes();
        var l = Launcher(Generic(typeof(MemoryKernels), nameof(MemoryKernels.Copy), raw));
        var transpose = device.Kind == GpuKind.OpenCL ? null : GroupLauncher(Generic(typeof(MemoryKernels), nameof(MemoryKernels.Transpose), raw));
        var shape = src.Rank == 0 ? [Dim.One] : src.Shape;
        var ss = src.Rank == 0 ? [Dim.Zero] : src.Strides;
        var ds = dst.Rank == 0 ? [Dim.Zero] : dst.Strides;
        var (cs, cstr) = Scheduler.Collapse(shape, [ds, ss]);
        if (cs.Length > MemoryKernels.MaxRank) throw new NotSupportedException($"{c.Label}: a copy over more than {MemoryKernels.MaxRank} dims");
        int pad = MemoryKernels.MaxRank - cs.Length;
        long[] s = [.. Enumerable.Repeat(1L, MemoryKernels.MaxRank)], d = new long[MemoryKernels.MaxRank], t = new long[MemoryKernels.MaxRank];
        return f =>
        {
            EvalInto(f, cs, s, pad);
            EvalInto(f, cstr[0], d, pad);
            EvalInto(f, cstr[1], t, pad);
            long count = Product(s);
            if (count == 0) return;
            long dOff = f.Eval(dst.Offset), sOff = f.Eval(src.Offset);
            var (dm, sm) = (f.Slots[dst.Slot], f.Slots[src.Slot]);
            if (CopyIsContiguous(s, d, t))
            {
                // Both views dense: one device-to-device copy of the bytes on the stream.
                long bytes = count * size;
                dm.Buffer.View(dm.Offset + (dOff * size), bytes).CopyFrom(Stream, sm.Buffer.View(sm.Offset + (sOff * size), bytes));
                return;
            }

            if (transpose is not null && TransposeDims(s, d, t) is var (pd, id))
            {
                Transposed(transpose, dm, sm, s, d, t, dOff, sOff, pd, id, c.Label);
                return;
            }

            long inner = s[^1];
            int vec = d[^1] == 1 && t[^1] == 1 ? Math.Max(1, MemoryKernels.CopyBytesPerThread / size) : 1;
            long chunks = (inner + vec - 1) / vec;
            l.Begin().View(dm).View(sm).Arg(Fits(inner, c.Label)).Arg(vec);
            CopyDivisor(l, chunks, c.Label);
            for (int i = 4; i >= 1; i--) CopyDivisor(l, s[i], c.Label);
            l.Arg(dOff);
            foreach (var v in d) l.Arg(v);
            l.Arg(sOff);
            foreach (var v in t) l.Arg(v);
            l.Launch(count / inner * chunks);
        };
    }

    /// <summary>Fewest elements along each of a transposed copy's two dims for the tiled transpose (half a tile).</summary>
    private const long TransposeMin = MemoryKernels.TransposeTile / 2;

    /// <summary>
    /// The dims (p, i) of a copy that reads along p and writes along i, each unit-stride in its view and at least
    /// <see cref="TransposeMin"/> long (a transpose, as a reduction over leading dims or a head merge makes), or null.
    /// </summary>
    internal static (int P, int I)? TransposeDims(long[] s, long[] d, long[] t)
    {
        int p = -1, i = -1;
        for (int k = 0; k < s.Length; k++)
        {
            if (s[k] < TransposeMin) continue;
            if (t[k] == 1 && d[k] != 1) p = k;
            if (d[k] == 1 && t[k] != 1) i = k;
        }

        return p >= 0 && i >= 0 ? (p, i) : null;
    }

    /// <summary>Launches <see cref="MemoryKernels.Transpose{T}"/> over dims <paramref name="p"/> and <paramref name="i"/>, the other four as its batch.</summary>
    private void Transposed(KernelLauncher l, Mem dm, Mem sm, long[] s, long[] d, long[] t, long dOff, long sOff, int p, int i, string label)
    {
        Span<int> other = stackalloc int[4];
        int n = 0;
        for (int k = 0; k < s.Length; k++)
        {
            if (k != p && k != i) other[n++] = k;
        }

        // The tile edge: 32, or less where groups are smaller (ILGPU's CPU accelerator); rows of a quarter edge at least.
        int max = device.Accelerator.MaxNumThreadsPerGroup;
        int edge = MemoryKernels.TransposeTile;
        while (edge > 1 && edge * Math.Max(1, edge / 4) > max) edge /= 2;
        int rows = Math.Min(MemoryKernels.TransposeRows, Math.Max(1, max / edge));
        long batch = s[other[0]] * s[other[1]] * s[other[2]] * s[other[3]];
        l.Begin().View(dm).View(sm).Arg(Fits(s[p], label)).Arg(Fits(s[i], label));
        for (int k = 1; k < 4; k++) CopyDivisor(l, s[other[k]], label);
        l.Arg(dOff).Arg(d[p]).Arg(d[i]).Arg(d[other[0]]).Arg(d[other[1]]).Arg(d[other[2]]).Arg(d[other[3]])
            .Arg(sOff).Arg(t[p]).Arg(t[i]).Arg(t[other[0]]).Arg(t[other[1]]).Arg(t[other[2]]).Arg(t[other[3]])
            .Launch(new KernelConfig(
                new Index3D(Fits((s[i] + edge - 1) / edge, label), Fits((s[p] + edge - 1) / edge, label), Fits(batch, label)),
                new Index3D(edge, rows, 1)));
    }

    /// <summary>Whether a copy's padded shape <paramref name="s"/> is dense in both views (strides <paramref name="d"/>, <paramref name="t"/>), row-major.</summary>
    internal static bool CopyIsContiguous(long[] s, long[] d, long[] t)
    {
        long expect = 1;
        for (int i = s.Length - 1; i >= 0; i--)
        {
            if (s[i] == 1) continue;
            if (d[i] != expect || t[i] != expect) return false;
            expect *= s[i];
        }

        return true;
    }

    /// <summary>A copy divisor's size, multiplier and shift (<see cref="FastDivmod"/>).</summary>
    private static void CopyDivisor(KernelLauncher l, long divisor, string label)
    {
        var (multiplier, shift) = FastDivmod.Magic(Fits(divisor, label));
        l.Arg((int)divisor).Arg((long)multiplier).Arg(shift);
    }

    private static int Fits(long value, string label) =>
        value <= int.MaxValue ? (int)value : throw new NotSupportedException($"{label}: a dim of {value} elements exceeds one copy launch");

    private Action<Frame> CastFromI64(FallbackElementwiseCall c)
    {
        var src = c.Inputs[0];
        if (src.IsConstant) throw new NotSupportedException($"{c.Label}: a cast of a constant");
        var (elem, storage) = Storage(c.DType, c.Label);
        var l = Launcher(Generic(typeof(MemoryKernels), nameof(MemoryKernels.CastI64ToFloat), elem, storage));
        var shape = src.Rank == 0 ? [Dim.One] : src.Shape;
        var ss = src.Rank == 0 ? [Dim.Zero] : src.Strides;
        var (cs, cstr) = Scheduler.Collapse(shape, [ss]);
        if (cs.Length > MemoryKernels.MaxRank) throw new NotSupportedException($"{c.Label}: a cast over more than {MemoryKernels.MaxRank} dims");
        int pad = MemoryKernels.MaxRank - cs.Length;
        long[] s = [.. Enumerable.Repeat(1L, MemoryKernels.MaxRank)], t = new long[MemoryKernels.MaxRank];
        return f =>
        {
            EvalInto(f, cs, s, pad);
            EvalInto(f, cstr[0], t, pad);
            l.Begin().View(f.Slots[c.Output]).View(f.Slots[src.Slot]);
            for (int i = 1; i < s.Length; i++) l.Arg(s[i]);
            l.Arg(f.Eval(src.Offset));
            foreach (var v in t) l.Arg(v);
            l.Launch(Product(s));
        };
    }

    private Action<Frame> Fill(FillCall c)
    {
        var raw = RawType(c.DType);
        var l = Launcher(Generic(typeof(MemoryKernels), nameof(MemoryKernels.Fill), raw));
        long value = c.DType switch
        {
            DType.F32 => BitConverter.SingleToUInt32Bits((float)c.Value),
            DType.F16 => GpuMath.F32ToF16((float)c.Value),
            DType.BF16 => GpuMath.F32ToBF16((float)c.Value),
            DType.F64 => BitConverter.DoubleToInt64Bits(c.Value),
            DType.I64 => (long)c.Value,
            DType.I32 => unchecked((uint)(int)c.Value),
            DType.I8 => unchecked((byte)(sbyte)c.Value),
            DType.U8 => (byte)c.Value,
            DType.Bool => c.Value != 0 ? 1 : 0,
            _ => throw new NotSupportedException($"{c.Label}: fill of {c.DType.TorchName()}"),
        };
        return f => l.Begin().View(f.Slots[c.Slot]).Arg(value).Launch(f.Eval(c.Count));
    }

    private Action<Frame> Arange(ArangeCall c)
    {
        if (c.DType == DType.I64)
        {
            var l = Launcher(typeof(MemoryKernels).GetMethod(nameof(MemoryKernels.ArangeI64), Static)!);
            return f => l.Begin().View(f.Slots[c.Slot]).Arg((long)c.Start).Arg((long)c.Step).Launch(f.Eval(c.Length));
        }

        if (c.DType == DType.I32)
        {
            var l = Launcher(typeof(MemoryKernels).GetMethod(nameof(MemoryKernels.ArangeI32), Static)!);
            return f => l.Begin().View(f.Slots[c.Slot]).Arg((int)c.Start).Arg((int)c.Step).Launch(f.Eval(c.Length));
        }

        return ArangeFloat(c);
    }

    private Action<Frame> ArangeFloat(ArangeCall c)
    {
        var (elem, storage) = Storage(c.DType, c.Label);
        var l = Launcher(Generic(typeof(MemoryKernels), nameof(MemoryKernels.ArangeFloat), elem, storage));
        return f => l.Begin().View(f.Slots[c.Slot]).Arg((float)c.Start).Arg((float)c.Step).Launch(f.Eval(c.Length));
    }

    private Action<Frame> RandomUniform(RandomUniformCall c)
    {
        var l = Launcher(typeof(RandomKernels).GetMethod(nameof(RandomKernels.Uniform), Static)!);
        return f => l.Begin().View(f.Slots[c.Slot]).View(f.Slots[c.Seed]).Arg(c.Stream).Launch(f.Eval(c.Count));
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
        var l = Launcher(Generic(typeof(MixedKernels), name, generic));
        int pad = MixedKernels.Rank - shape.Length;
        int op = (int)c.Op, boolOut = c.DType == DType.Bool ? 1 : 0, fl = floatDomain ? 1 : 0;
        long[] s = [.. Enumerable.Repeat(1L, MixedKernels.Rank)];
        var inputs = c.Inputs.ToArray();
        return f =>
        {
            EvalInto(f, shape, s, pad);
            l.Begin().View(f.Slots[c.Output]);
            for (int k = 0; k < n; k++) l.View(f.Slots[inputs[k].Slot]);
            l.Arg(op).Arg(fl).Arg(boolOut);
            for (int d = 1; d < MixedKernels.Rank; d++) l.Arg(s[d]);
            for (int k = 0; k < n; k++)
            {
                l.Arg(f.Eval(inputs[k].Offset));
                for (int d = 0; d < pad; d++) l.Arg(0L);
                foreach (var st in strides[k]) l.Arg(f.Eval(st));
            }

            l.Launch(Product(s));
        };
    }

    /// <summary>A padded six-dim shape of a dense operand.</summary>
    private static void Padded(Frame f, Dim[] shape, long[] into) => EvalInto(f, shape, into, GatherKernels.Rank - shape.Length);

    private static long[] Ones() => [.. Enumerable.Repeat(1L, GatherKernels.Rank)];

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
        var l = Launcher(Generic(typeof(GatherKernels), nameof(GatherKernels.Gather), raw, idx.Element, idx.Storage));
        int axis = c.Axis + (GatherKernels.Rank - Math.Max(c.X.Rank, 1));
        long[] xs = Ones(), ix = Ones();
        var numel = c.Index.Numel;
        return f =>
        {
            Padded(f, c.X.Shape, xs);
            Padded(f, c.Index.Shape, ix);
            l.Begin()
                .View(f.Slots[c.X.Slot], f.Eval(c.X.Offset))
                .View(f.Slots[c.Index.Slot], f.Eval(c.Index.Offset))
                .View(f.Slots[c.Y])
                .View(new Mem(f.Scratch!, 0, 16))
                .Arg(axis);
            foreach (var v in xs) l.Arg(v);
            for (int i = 1; i < ix.Length; i++) l.Arg(ix[i]);
            l.Launch(f.Eval(numel));
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
        var l = Launcher(Generic(typeof(GatherKernels), nameof(GatherKernels.ScatterAdd), element, adder, idx.Element, idx.Storage));
        int axis = c.Axis + (GatherKernels.Rank - Math.Max(c.X.Rank, 1));
        long size = c.X.DType.SizeInBytes();
        long[] xs = Ones(), ix = Ones(), ss = Ones();
        Dim xNumel = c.X.Numel, indexNumel = c.Index.Numel;
        return f =>
        {
            Padded(f, c.X.Shape, xs);
            Padded(f, c.Index.Shape, ix);
            Padded(f, c.Src.Shape, ss);
            long xn = f.Eval(xNumel);
            var y = f.Slots[c.Y];
            var x = f.Slots[c.X.Slot];
            long xOffset = x.Offset + (f.Eval(c.X.Offset) * size);
            if (c.X.Slot != c.Y || xOffset != y.Offset)
            {
                // Scattered in place when the scheduler gave the base's own buffer as the output.
                y.Buffer.View(y.Offset, xn * size).CopyFrom(Stream, x.Buffer.View(xOffset, xn * size));
            }

            l.Begin()
                .View(y)
                .View(f.Slots[c.Index.Slot], f.Eval(c.Index.Offset))
                .View(f.Slots[c.Src.Slot], f.Eval(c.Src.Offset))
                .View(new Mem(f.Scratch!, 0, 16))
                .Arg(axis);
            foreach (var v in xs) l.Arg(v);
            for (int i = 1; i < ix.Length; i++) l.Arg(ix[i]);
            for (int i = 1; i < ss.Length; i++) l.Arg(ss[i]);
            l.Launch(f.Eval(indexNumel));
        };
    }

    /// <summary>The <see cref="IQuantFormat"/> of a ggml block type that has GPU kernels (<see cref="GpuBackend.QuantTypes"/>).</summary>
    internal static Type QuantFormat(GgmlType type, string what) => type switch
    {
        GgmlType.Q8_0 => typeof(Q8_0Format),
        GgmlType.Q4_0 => typeof(Q4_0Format),
        GgmlType.Q4_K => typeof(Q4_KFormat),
        _ => throw new NotSupportedException($"{what}: the GPU backend has no kernels for {GgmlTypeTraits.Name(type)} blocks"),
    };

    /// <summary>
    /// Threads of a quantized GEMV group (one weight row): 64, or fewer where groups are smaller; 8 on ILGPU's CPU
    /// accelerator, whose group barriers are costly (the reduction's).
    /// </summary>
    private int QuantGroup
    {
        get
        {
            int g = device.Kind == GpuKind.Cpu ? 8 : 64;
            while (g > device.Accelerator.MaxNumThreadsPerGroup) g /= 2;
            return g;
        }
    }

    /// <summary>
    /// A quantized product y [rows, n] = x [rows, k] · wᵀ: up to <see cref="QuantGemvRows"/> activation rows (decode)
    /// by the GEMV over the stored blocks, more (prefill) by dequantizing the weight into the step workspace and
    /// running the dense product (cuBLAS or the tiled GEMM) on it.
    /// </summary>
    private Action<Frame> QuantMatMul(QuantMatMulCall q)
    {
        if (q.Epilogue is not null) throw new NotSupportedException($"{q.Label}: the GPU backend takes no quantized-product epilogue (it does not fuse quant_matmul_epilogue groups)");
        var format = QuantFormat(q.Type, q.Label);
        var gemv = GroupLauncher(Generic(typeof(QuantKernels), nameof(QuantKernels.Gemv), format, device.Reducer));
        var dequantize = Launcher(Generic(typeof(QuantKernels), nameof(QuantKernels.Dequantize), format));
        var tiled = new TiledGemm(GroupLauncher(Generic(typeof(GemmKernels), nameof(GemmKernels.Gemm), typeof(float), typeof(F32Storage), typeof(float), typeof(F32Storage), typeof(float), typeof(F32Storage))), 0);
        int n = q.N, k = q.K;
        long units = (long)n * k / 8;
        _largestDequantized = Math.Max(_largestDequantized, units * 8 * sizeof(float));
        var x = q.X;
        return f =>
        {
            long rows = f.Eval(q.Rows);
            if (rows == 0) return;
            long xOff = f.Eval(x.Offset);
            var (xm, wm, ym) = (f.Slots[x.Slot], f.Slots[q.W], f.Slots[q.Y]);
            if (rows <= QuantGemvRows)
            {
                long groups = (long)n * ((rows + QuantKernels.GemvRows - 1) / QuantKernels.GemvRows);
                gemv.Begin().View(wm).View(xm).View(ym).Arg(n).Arg(k).Arg(checked((int)rows)).Arg(xOff)
                    .Launch(new KernelConfig(new Index1D(checked((int)groups)), new Index1D(QuantGroup)));
                return;
            }

            // The workspace is taken at the largest dequantized weight of the plan at once, so it grows once, not per product.
            var dense = f.Workspace(Math.Max(checked(units * 8 * sizeof(float)), _largestDequantized));
            dequantize.Begin().View(wm).View(dense).Launch(units);
            if (!TryCublas(DType.F32, DType.F32, rows, n, k, xm, xOff, k, 1, 0, dense, 0, 1, k, 0, ym, 1))
            {
                Tiled(tiled, xm, dense, ym, rows, n, k, xOff, k, 1, 0, 1, k);
            }
        };
    }

    /// <summary>Activation rows up to which a quantized product runs as GEMVs over the stored blocks (two GEMV groups per weight row at most).</summary>
    private const int QuantGemvRows = 2 * QuantKernels.GemvRows;

    /// <summary>Rows of a quantized table at integer ids (<see cref="QuantKernels.Embedding{TQ, TI, TIS}"/>), ids range-checked.</summary>
    private Action<Frame> QuantEmbedding(QuantEmbeddingCall q)
    {
        var format = QuantFormat(q.Type, q.Label);
        var (index, indexStorage) = q.Index.DType switch
        {
            DType.I64 => (typeof(long), typeof(I64Index)),
            DType.I32 => (typeof(int), typeof(I32Index)),
            _ => throw new NotSupportedException($"{q.Label}: indices of {q.Index.DType.TorchName()}"),
        };
        var l = Launcher(Generic(typeof(QuantKernels), nameof(QuantKernels.Embedding), format, index, indexStorage));
        var numel = q.Index.Numel;
        long rowUnits = q.Cols / 8;
        return f =>
        {
            long count = f.Eval(numel);
            l.Begin().View(f.Slots[q.W]).View(f.Slots[q.Index.Slot], f.Eval(q.Index.Offset)).View(f.Slots[q.Y]).View(new Mem(f.Scratch!, 0, 16))
                .Arg(q.Rows).Arg(q.Cols).Launch(count * rowUnits);
        };
    }
}
