using System.Reflection;
using System.Text.RegularExpressions;
using Candle.Compiler.Backends;
using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Ir;
using Candle.Runtime;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// The split-K quad few-row products (<see cref="GemvKernels.GemvQuadsSplit{TW, TC, TCS}"/> and its deep form): direct
/// launches on ILGPU's CPU accelerator against a double-precision loop for every split, f16 and bf16, 1 to 4 activation
/// rows, odd weight-row counts and k that is no multiple of the slices (slices cut short, empty, or past the row);
/// the graphs of <see cref="GemvTests"/> with <see cref="GpuLowering.SplitGemvVariable"/> set against the reference
/// interpreter; the <c>auto</c> rule on an H100's shapes; a bad setting; and the PTX (16-byte loads, shared memory
/// behind a barrier, no local memory).
/// </summary>
[Collection(EnvironmentSwitchCollection.Name)]
public sealed class SplitGemvTests : IDisposable
{
    private readonly KernelSource _source = new();

    public void Dispose() => _source.Dispose();

    /// <summary>
    /// Rows, k, weight rows, split, row pairs a group, depth and warp width of the direct launches: warps of 4 lanes
    /// (many slices a row, fewer lanes than a row pair's outputs for 3 and 4 rows) and of 32 (a GPU's).
    /// </summary>
    public static TheoryData<int, int, int, int, int, bool, int> SplitShapes()
    {
        var data = new TheoryData<int, int, int, int, int, bool, int>();
        foreach (bool deep in new[] { false, true })
        {
            foreach (int splits in new[] { 1, 2, 4, 8 })
            {
                foreach (var (rows, k, n, pairsPerGroup) in new[] { (1, 8, 1, 1), (2, 200, 5, 2), (3, 520, 7, 1), (4, 1032, 4, 2), (1, 2056, 9, 1), (4, 264, 3, 1), (2, 136, 6, 2) })
                {
                    // Eight slices fill a group of eight warps: one row pair a group.
                    data.Add(rows, k, n, splits, splits == 8 ? 1 : pairsPerGroup, deep, 4);
                }

                foreach (var (rows, k, n) in new[] { (4, 2056, 5), (3, 5640, 3) })
                {
                    data.Add(rows, k, n, splits, 8 / splits, deep, 32);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SplitShapes))]
    public void SplitKernelsMatchADoublePrecisionLoop(int rows, int k, int n, int splits, int pairsPerGroup, bool deep, int width)
    {
        // Activation and weight rows one quad longer than k apart, from an offset of one quad, as in the unsplit tests;
        // the output is filled with NaN first so an output that no warp writes shows.
        foreach (bool bf16 in new[] { false, true })
        {
            var rng = new Random((rows * 7919) + (k * 31) + (n * 3) + splits + (deep ? 5 : 0) + (bf16 ? 1 : 0));
            int quads = k / 8, stride = k + 8;
            ushort[] a = new ushort[8 + (rows * stride)], b = new ushort[8 + (n * stride)];
            for (int i = 0; i < a.Length; i++) a[i] = Bits((float)((rng.NextDouble() * 2) - 1), bf16);
            for (int i = 0; i < b.Length; i++) b[i] = Bits((float)((rng.NextDouble() * 2) - 1), bf16);
            using var context = Context.Create(c => c.CPU(new CPUDevice(width, GemvKernels.MaxSplitWarps, 1)).EnableAlgorithms());
            using var acc = context.CreateCPUAccelerator(0);
            int warp = acc.WarpSize;
            Assert.Equal(width, warp);
            Assert.True(GemvKernels.MaxSplitWarps * warp <= acc.MaxNumThreadsPerGroup, $"the test device holds {acc.MaxNumThreadsPerGroup / warp} warps a group");
            using var ab = acc.Allocate1D(a);
            using var bb = acc.Allocate1D(b);
            using var cb = acc.Allocate1D(Enumerable.Repeat(float.NaN, rows * n).ToArray());
            int pairs = (n + 1) / 2;
            var config = new KernelConfig((pairs + pairsPerGroup - 1) / pairsPerGroup, pairsPerGroup * splits * warp);
            int slice = GpuLowering.SliceFor(quads, splits, warp);
            var av = ab.View.AsContiguous().Cast<Quad>();
            var bv = bb.View.AsContiguous().Cast<Quad>();
            Action<ArrayView<Quad>, ArrayView<Quad>, ArrayView<float>, int, int, int, long, long, long, long, int, int> kernel = (bf16, deep) switch
            {
                (true, false) => GemvKernels.GemvQuadsSplit<BF16Pairs, float, F32Storage>,
                (false, false) => GemvKernels.GemvQuadsSplit<HalfPairs, float, F32Storage>,
                (true, true) => GemvKernels.GemvQuadsSplitDeep<BF16Pairs, float, F32Storage>,
                (false, true) => GemvKernels.GemvQuadsSplitDeep<HalfPairs, float, F32Storage>,
            };
            acc.LoadStreamKernel(kernel)(config, av, bv, cb.View, rows, n, quads, 1, stride / 8, 1, stride / 8, splits, slice);
            acc.Synchronize();
            float[] c = cb.GetAsArray1D();
            for (int r = 0; r < rows; r++)
            {
                for (int j = 0; j < n; j++)
                {
                    double expected = 0;
                    for (int i = 0; i < k; i++) expected += Value(a[8 + (r * stride) + i], bf16) * Value(b[8 + (j * stride) + i], bf16);
                    Assert.True(Math.Abs(c[(r * n) + j] - expected) <= 1e-4 * (1 + Math.Sqrt(k)), $"{(bf16 ? "bf16" : "f16")} split {splits} row {r} column {j}: {c[(r * n) + j]}, expected {expected}");
                }
            }
        }
    }

    /// <summary>The slices cover the row in whole warp widths, the last one cut short or empty.</summary>
    [Theory]
    [InlineData(256, 4, 32, 64)]
    [InlineData(704, 4, 32, 192)]
    [InlineData(704, 8, 32, 96)]
    [InlineData(1, 8, 32, 32)]
    [InlineData(65, 2, 4, 36)]
    public void SlicesAreWholeWarpWidthsThatCoverTheRow(int quads, int splits, int width, int expected)
    {
        int slice = GpuLowering.SliceFor(quads, splits, width);
        Assert.Equal(expected, slice);
        Assert.Equal(0, slice % width);
        Assert.True((long)slice * splits >= quads);
    }

    /// <summary>
    /// The <c>auto</c> rule on an H100 (132 multiprocessors, warps of 32) for a 1.1B Llama's decode products: the
    /// products with 2048 weight rows split until 48 warps a multiprocessor or a warp's whole load step; lm_head does not.
    /// </summary>
    [Theory]
    [InlineData(2048, 2048, 2, 4)] // attention output: 1024 pairs; 8 would leave half a step (32 of 64 quads)
    [InlineData(2048, 5632, 2, 8)] // MLP down: 704 quads, room for 8
    [InlineData(2048, 2048, 4, 2)] // the deep form's steps are 128 quads
    [InlineData(32000, 2048, 2, 1)] // lm_head: 16000 warps already
    [InlineData(11264, 2048, 2, 2)] // merged gate/up: 5632 warps, fewer than 48 · 132
    [InlineData(2048, 256, 2, 1)] // one step of a warp a row: nothing to split
    public void TheAutoRuleSplitsProductsWithFewWeightRows(int n, int k, int depth, int expected) =>
        Assert.Equal(expected, GpuLowering.SplitsFor(n, k / 8, 132, 32, depth));

    /// <summary>The graphs of <see cref="GemvTests.MatchesTheReferenceInterpreter"/> under each split, plain and deep.</summary>
    [Theory]
    [InlineData("2", false, DType.F16, 1, 64, 3)]
    [InlineData("4", false, DType.BF16, 2, 520, 7)]
    [InlineData("8", false, DType.F16, 4, 1032, 5)]
    [InlineData("auto", false, DType.BF16, 3, 1032, 33)]
    [InlineData("2", true, DType.BF16, 4, 264, 9)]
    [InlineData("4", true, DType.F16, 3, 1032, 6)]
    [InlineData("8", true, DType.BF16, 1, 520, 3)]
    [InlineData("auto", true, DType.F16, 2, 2048, 5)]
    [InlineData("2", false, DType.F16, 2, 520, 33)]
    [InlineData("1", false, DType.F16, 2, 256, 9)]
    public void SplitGraphsMatchTheReferenceInterpreter(string split, bool deep, DType dt, int rows, int k, int n)
    {
        string? before = Environment.GetEnvironmentVariable(GpuLowering.SplitGemvVariable);
        string? deepBefore = Environment.GetEnvironmentVariable(GpuLowering.DeepGemvVariable);
        Environment.SetEnvironmentVariable(GpuLowering.SplitGemvVariable, split);
        Environment.SetEnvironmentVariable(GpuLowering.DeepGemvVariable, deep ? "1" : null);
        try
        {
            new GemvTests().MatchesTheReferenceInterpreter(dt, rows, k, n);
        }
        finally
        {
            Environment.SetEnvironmentVariable(GpuLowering.SplitGemvVariable, before);
            Environment.SetEnvironmentVariable(GpuLowering.DeepGemvVariable, deepBefore);
        }
    }

    [Fact]
    public void AnUnknownSplitIsRejectedNamingTheVariable()
    {
        string? before = Environment.GetEnvironmentVariable(GpuLowering.SplitGemvVariable);
        Environment.SetEnvironmentVariable(GpuLowering.SplitGemvVariable, "3");
        try
        {
            var x = IrBuilder.Input("x", DType.F16, Shape.Of(1, 1, 64));
            var w = IrBuilder.Input("w", DType.F16, Shape.Of(16, 64));
            var g = new Graph([x, w], [IrBuilder.MatMul(x, IrBuilder.Transpose(w, 0, 1))]);
            var e = Assert.ThrowsAny<ArgumentException>(() => CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu }).Dispose());
            Assert.Contains(GpuLowering.SplitGemvVariable, e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(GpuLowering.SplitGemvVariable, before);
        }
    }

    [Theory]
    [InlineData(nameof(GemvKernels.GemvQuadsSplit), false, 6)]
    [InlineData(nameof(GemvKernels.GemvQuadsSplit), true, 6)]
    [InlineData(nameof(GemvKernels.GemvQuadsSplitDeep), false, 12)]
    [InlineData(nameof(GemvKernels.GemvQuadsSplitDeep), true, 12)]
    public void TheSplitProductLoadsSixteenBytesAndAddsItsSlicesInSharedMemoryWithNoLocalMemory(string kernel, bool bf16, int loads)
    {
        var method = typeof(GemvKernels).GetMethod(kernel, BindingFlags.Public | BindingFlags.Static)!
            .MakeGenericMethod(bf16 ? typeof(BF16Pairs) : typeof(HalfPairs), typeof(ushort), bf16 ? typeof(BF16Storage) : typeof(HalfStorage));
        var ptx = _source.Ptx(method, true);
        Assert.DoesNotContain(".local", ptx, StringComparison.Ordinal);
        Assert.DoesNotContain("ld.global.b16", ptx, StringComparison.Ordinal);
        Assert.DoesNotContain("ld.global.u16", ptx, StringComparison.Ordinal);
        // Two (deep: four) quads of each of two weight rows and the activation quads they meet, a step.
        Assert.True(Regex.Count(ptx, @"ld\.global\.v4\.b32") >= loads, $"{kernel}: {Regex.Count(ptx, @"ld\.global\.v4\.b32")} quad loads");
        Assert.Contains("shfl.sync.bfly", ptx, StringComparison.Ordinal);
        Assert.Contains(".shared", ptx, StringComparison.Ordinal);
        Assert.Contains("st.shared.f32", ptx, StringComparison.Ordinal);
        Assert.Contains("ld.shared.f32", ptx, StringComparison.Ordinal);
        Assert.Contains("bar.sync", ptx, StringComparison.Ordinal);
        Assert.DoesNotContain("atom.", ptx, StringComparison.Ordinal);
    }

    private static ushort Bits(float v, bool bf16) =>
        bf16 ? (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16) : BitConverter.HalfToUInt16Bits((System.Half)v);

    private static double Value(ushort bits, bool bf16) =>
        bf16 ? BitConverter.UInt32BitsToSingle((uint)bits << 16) : (double)BitConverter.UInt16BitsToHalf(bits);
}
