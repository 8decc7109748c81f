using Candle.Compiler.Gpu.Kernels;
using Candle.Runtime;
using ILGPU;
using ILGPU.Runtime;
using Mem = Candle.Compiler.Gpu.GpuExecutable.Mem;

namespace Candle.Compiler.Gpu;

/// <summary>
/// The split-K form of the 16-bit quad few-row products (<see cref="GemvKernels.GemvQuadsSplit{TW, TC, TCS}"/>,
/// <see cref="GemvKernels.GemvQuadsSplitDeep{TW, TC, TCS}"/>): where a product has few weight rows, each row pair is
/// read by several warps of one group, each a slice of k, so that more warps (and bytes in flight) are resident.
/// Chosen by <see cref="SplitGemvVariable"/> (unsplit unless set); the launch takes the same operands the unsplit quad
/// kernel would.
/// </summary>
internal sealed partial class GpuLowering
{
    /// <summary>
    /// <c>auto</c>, 1, 2, 4 or 8: the warps that read each row pair of a 16-bit quad few-row product (<c>auto</c>: per
    /// launch, <see cref="SplitsFor"/>); unset or 1 keeps one warp a row pair (the products are unmeasured split on a
    /// card, so unsplit by default).
    /// </summary>
    internal const string SplitGemvVariable = "CANDLE_GPU_GEMV_SPLIT";

    /// <summary>Warps per multiprocessor the <c>auto</c> split aims for (bytes in flight enough to keep the memory busy).</summary>
    internal const int SplitWarpsPerMultiprocessor = 48;

    /// <summary>
    /// The split <see cref="SplitGemvVariable"/> asks for: 1 (unset, empty or 1), 2, 4 or 8, or 0 for <c>auto</c>.
    /// </summary>
    /// <exception cref="ArgumentException">Any other value (the message names the variable).</exception>
    internal static int GemvSplitSetting
    {
        get
        {
            string? v = Environment.GetEnvironmentVariable(SplitGemvVariable);
            return v switch
            {
                null or "" or "1" => 1,
                "auto" => 0,
                "2" => 2,
                "4" => 4,
                "8" => 8,
                _ => throw new ArgumentException($"{SplitGemvVariable}={v}: expected auto, 1, 2, 4 or 8"),
            };
        }
    }

    /// <summary>
    /// The warps (1, 2, 4 or 8) that read each row pair of an <paramref name="n"/>-row product of <paramref name="quads"/>
    /// quads a row under <c>auto</c>: the fewest that give <see cref="SplitWarpsPerMultiprocessor"/> warps per
    /// multiprocessor, but no more than leave each warp a whole step of its loads (<paramref name="depth"/> quads of a
    /// warp's <paramref name="width"/>) per row: more would only leave lanes reloading quads they do not count, with no
    /// more bytes in flight.
    /// </summary>
    internal static int SplitsFor(long n, long quads, int multiprocessors, int width, int depth)
    {
        long pairs = (n + GemvKernels.QuadRowsPerWarp - 1) / GemvKernels.QuadRowsPerWarp;
        long target = (long)SplitWarpsPerMultiprocessor * Math.Max(1, multiprocessors);
        long most = quads / ((long)Math.Max(1, depth) * Math.Max(1, width));
        int s = 1;
        while (s < GemvKernels.MaxSplitWarps && pairs * s < target && 2L * s <= most) s *= 2;
        return s;
    }

    /// <summary>
    /// The quads of a row each of <paramref name="splits"/> warps takes: an equal share of <paramref name="quads"/>
    /// rounded up to whole warp widths (<paramref name="width"/> quads), so each slice starts on a warp's step.
    /// </summary>
    internal static int SliceFor(long quads, int splits, int width)
    {
        long share = (quads + splits - 1) / splits;
        return checked((int)((share + width - 1) / width * width));
    }

    /// <summary>
    /// The split product's launcher for 16-bit activations and weights of <paramref name="dtype"/>, its deep form where
    /// <see cref="DeepGemvVariable"/> is 1, or null where <see cref="SplitGemvVariable"/> keeps the products unsplit or
    /// the quad kernel does not serve the dtype or device (<see cref="GemvQuadsLauncher"/>).
    /// </summary>
    private SplitGemv? GemvSplitLauncher(DType dtype)
    {
        int setting = GemvSplitSetting;
        if (setting == 1 || !device.UseGemv || !device.UseGemvWarps || !device.UseGemvQuads || device.Kind == GpuKind.OpenCL || WordPairs(dtype) is not { } words)
        {
            return null;
        }

        var (cElem, cStorage) = Storage(dtype, "matmul");
        bool deep = DeepGemv;
        string name = deep ? nameof(GemvKernels.GemvQuadsSplitDeep) : nameof(GemvKernels.GemvQuadsSplit);
        return new SplitGemv(GroupLauncher(Generic(typeof(GemvKernels), name, words, cElem, cStorage)), setting, deep ? GemvKernels.DeepQuadsPerLane : 2);
    }

    /// <summary>
    /// Launches the split product where its split for this launch is more than one warp a row pair; false, with
    /// nothing launched, otherwise (the unsplit quad kernel then runs). The operands are those the unsplit quad kernel
    /// takes (<see cref="TryGemv"/> has checked them), offsets and strides in elements; <paramref name="warpGroup"/>
    /// is the unsplit kernels' group size.
    /// </summary>
    private bool TrySplitGemv(SplitGemv split, int warpGroup, long m, long n, long k, Mem am, long aOff, long aM, Mem bm, long bOff, long bN, Mem cm)
    {
        var acc = device.Accelerator;
        int warp = acc.WarpSize;
        long quads = k / 8;
        int fit = Math.Min(GemvKernels.MaxSplitWarps, acc.MaxNumThreadsPerGroup / warp);
        int s = split.Setting == 0 ? SplitsFor(n, quads, acc.NumMultiprocessors, warp, split.Depth) : split.Setting;
        while (s > fit) s /= 2;
        if (s <= 1) return false;
        int pairsPerGroup = Math.Max(1, Math.Min(warpGroup / warp, GemvKernels.MaxSplitWarps) / s);
        long pairs = (n + GemvKernels.QuadRowsPerWarp - 1) / GemvKernels.QuadRowsPerWarp;
        var config = new KernelConfig(new Index1D((int)((pairs + pairsPerGroup - 1) / pairsPerGroup)), new Index1D(pairsPerGroup * s * warp));
        split.Launcher.Begin().View(am).View(bm).View(cm).Arg((int)m).Arg((int)n).Arg((int)quads).Arg(aOff / 8).Arg(aM / 8).Arg(bOff / 8).Arg(bN / 8)
            .Arg(s).Arg(SliceFor(quads, s, warp)).Launch(config);
        return true;
    }

    /// <summary>A split product's launcher, its setting (0: <c>auto</c>, else the warps a row pair) and the quads of each weight row a lane loads before using any.</summary>
    private sealed record SplitGemv(KernelLauncher Launcher, int Setting, int Depth);
}
