using Candle.Compiler.Gpu.Kernels;
using Candle.Runtime;
using ILGPU;
using ILGPU.Runtime;
using Mem = Candle.Compiler.Gpu.GpuExecutable.Mem;

namespace Candle.Compiler.Gpu;

/// <summary>
/// The staged few-row products (<see cref="StagedGemvKernels.StagedGemv{TS, TR, TA, TC, TCS}"/>): where
/// <see cref="StagedGemvVariable"/> is 1, the norm and gated folds and the plain 16-bit quad products run the staged
/// kernel, which prepares the activation rows once per group in f32 shared memory, wherever those rows fit
/// <see cref="StagedSharedLimit"/>; elsewhere (and with the switch off) the kernels they replace run as before.
/// </summary>
internal sealed partial class GpuLowering
{
    /// <summary>Set to 1, the few-row products stage their activation rows in shared memory (A/B runs until measured on a card).</summary>
    internal const string StagedGemvVariable = "CANDLE_GPU_GEMV_STAGED";

    /// <summary>Most bytes of dynamic shared memory a staged launch asks for; larger rows run the unstaged kernels.</summary>
    internal const int StagedSharedLimit = 48 * 1024;

    /// <summary>Whether the few-row products are staged: <see cref="StagedGemvVariable"/> is 1 (read when the graph is lowered).</summary>
    internal static bool StagedGemv => Environment.GetEnvironmentVariable(StagedGemvVariable) == "1";

    /// <summary>The staged launcher that stands in for a fused or quad launcher, by that launcher.</summary>
    private readonly Dictionary<KernelLauncher, KernelLauncher> _staged = new(ReferenceEqualityComparer.Instance);

    /// <summary>How many launches so far ran the staged kernel (a replayed CUDA graph counts nothing).</summary>
    internal long StagedSteps { get; private set; }

    /// <summary>
    /// <paramref name="launcher"/> (a fused or quad product's) with its staged stand-in registered where
    /// <see cref="StagedGemv"/> is on and the device has dynamic shared memory for it (not OpenCL): the staged kernel of
    /// the octet storage <paramref name="dt"/> and the activation <paramref name="activation"/> (an <see cref="IGateActivation"/>).
    /// </summary>
    private KernelLauncher WithStaged(KernelLauncher launcher, DType dt, Type activation)
    {
        if (!StagedGemv || device.Kind == GpuKind.OpenCL || OctetStorage(dt) is not { } octets) return launcher;
        var (cElem, cStorage) = Storage(dt, "matmul");
        string name = DeepGemv ? nameof(StagedGemvKernels.StagedGemvDeep) : nameof(StagedGemvKernels.StagedGemv);
        _staged[launcher] = GroupLauncher(Generic(typeof(StagedGemvKernels), name, octets, OctetRounding(dt), activation, cElem, cStorage));
        return launcher;
    }

    /// <summary>Threads of a staged group: whole warps, at most <see cref="StagedGemvKernels.GroupSize"/>.</summary>
    private int StagedGroup
    {
        get
        {
            int warp = device.Accelerator.WarpSize;
            return Math.Min(StagedGemvKernels.GroupSize, device.Accelerator.MaxNumThreadsPerGroup) / warp * warp;
        }
    }

    /// <summary>
    /// Launches the staged stand-in of <paramref name="launcher"/> with the operands of
    /// <see cref="FusedGemvKernels.NormGemv{TS, TR, TA, TC, TCS}"/> (the caller checked them for that kernel; offsets of
    /// x and the weight in bytes, the rest in octets); false, with nothing launched, where the launcher has no stand-in
    /// or the staged rows with the group's quads would not fit <see cref="StagedSharedLimit"/> or the device's shared memory.
    /// </summary>
    private bool LaunchStaged(
        KernelLauncher launcher, Mem x, long xByte, Mem residual, Mem sum, Mem g, Mem b, long bByte, Mem c,
        long rows, long n, long octets, int flags, float eps, long bN, long xStride, bool gated)
    {
        if (!_staged.TryGetValue(launcher, out var l) || rows < 1 || rows > GemvKernels.MaxRows) return false;
        int warp = device.Accelerator.WarpSize, group = StagedGroup;
        if (group <= 0) return false;
        int perGroup = group / warp;
        long quads = StagedGemvKernels.SharedQuads((int)rows, octets, perGroup);
        if (quads * 16 > Math.Min(StagedSharedLimit, device.Accelerator.MaxSharedMemoryPerGroup)) return false;
        long warps = gated ? n : (n + FusedGemvKernels.RowsPerWarp - 1) / FusedGemvKernels.RowsPerWarp;
        var config = new KernelConfig(new Index1D((int)((warps + perGroup - 1) / perGroup)), new Index1D(group), SharedMemoryConfig.RequestDynamic<Quad>((int)quads));
        l.Begin().BytesView(x, xByte).BytesView(residual, 0).BytesView(sum, 0).BytesView(g, 0).BytesView(b, bByte).View(c)
            .Arg((int)rows).Arg((int)n).Arg((int)octets).Arg(flags).Arg(eps).Arg(bN).Arg(xStride)
            .Launch(config);
        StagedSteps++;
        return true;
    }

    /// <summary>
    /// A plain 16-bit quad product (<see cref="TryGemv"/> checked its operands for <paramref name="quads"/>; offsets
    /// and strides in elements) through the staged kernel where <paramref name="quads"/> has a staged stand-in and it fits.
    /// </summary>
    private bool TryStagedQuads(KernelLauncher quads, DType dt, long m, long n, long k, Mem am, long aOff, long aM, Mem bm, long bOff, long bN, Mem cm)
    {
        long size = dt.SizeInBytes(), octets = k / 8;
        return LaunchStaged(quads, am, aOff * size, am, am, am, bm, bOff * size, cm, m, n, octets, 0, 0f, bN / 8, m > 1 ? aM / 8 : octets, gated: false);
    }
}
