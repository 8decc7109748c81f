using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Tests.BackendMatrix;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// Products of a few activation rows against a weight in nn.Linear's [n, k] layout
/// (<see cref="Kernels.GemvKernels.Gemv{TA, TAS, TB, TBS, TC, TCS, TR}"/>) on ILGPU's CPU accelerator against the
/// reference interpreter: f32 weights (the 2-d product with an epilogue), f16/bf16 (batched products: one batch of
/// several rows, one row per batch against a broadcast weight), 1 to 4 rows, odd and even k, weights that are
/// constants and inputs, and shapes the kernel leaves to the tiled product (odd k, more rows). 16-bit weights with k a
/// multiple of 8 take <see cref="Kernels.GemvKernels.GemvWarps{TA, TAS, TW, TC, TCS}"/> (16-byte loads, one warp per
/// weight row), among them rows longer than a warp's first pass (k = 520, 1032) and slices at an offset of k elements;
/// where the activations share the weight's 16-bit dtype, <see cref="GemvKernels.GemvQuads{TW, TC, TCS}"/> (both read
/// 16 bytes a load, two weight rows a warp), also launched directly against a double-precision loop.
/// </summary>
[Collection(EnvironmentSwitchCollection.Name)]
public class GemvTests
{
    public static TheoryData<DType, int, int, int> Shapes()
    {
        var data = new TheoryData<DType, int, int, int>();
        foreach (var dt in new[] { DType.F32, DType.F16, DType.BF16 })
        {
            foreach (var (rows, k, n) in new[] { (1, 2, 1), (1, 64, 3), (2, 130, 7), (3, 300, 5), (4, 96, 33), (1, 33, 4), (6, 40, 5), (1, 8, 1), (2, 256, 9), (3, 1032, 6), (4, 520, 3) })
            {
                data.Add(dt, rows, k, n);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesTheReferenceInterpreter(DType dt, int rows, int k, int n)
    {
        var rng = new Random((rows * 1000) + k + n);
        var x = Input("x", dt, Shape.Of(1, rows, k));
        var w = Input("w", dt, Shape.Of(n, k));
        var bias = Input("b", dt, Shape.Of(n));
        var cw = Constant(BackendCases.Random(rng, dt, [n + 1, k], -1, 1), "cw");

        // A weight input, the same with a bias after it, a slice of a constant weight past its first row (an offset of
        // k elements: odd k leaves its pairs unaligned), and one row per batch against the broadcast weight.
        var xb = Reshape(x, Shape.Of(rows, 1, k));
        var g = new Graph(
            [x, w, bias],
            [
                MatMul(x, Transpose(w, 0, 1)),
                Binary(Op.Add, MatMul(x, Transpose(w, 0, 1)), bias),
                MatMul(x, Transpose(Slice(cw, 0, 1, n + 1), 0, 1)),
                MatMul(xb, Transpose(w, 0, 1)),
            ]);
        var inputs = g.Inputs.Select(i => BackendCases.Random(rng, i.DType, [.. i.Shape.Select(d => (int)d.Value)], -1, 1)).ToArray();
        var expected = ReferenceInterpreter.Run(g, inputs);
        var (atol, rtol) = BackendCases.Tol(dt, k);
        using var exe = CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu });
        Assert.Null(BackendCases.Compare(expected, exe.Run(inputs), atol, rtol));
    }

    /// <summary>The graphs of <see cref="MatchesTheReferenceInterpreter"/> with the deep few-row kernel (<see cref="GpuLowering.DeepGemvVariable"/>).</summary>
    [Theory]
    [InlineData(DType.F16, 1, 64, 3)]
    [InlineData(DType.BF16, 2, 520, 7)]
    [InlineData(DType.F16, 4, 1032, 5)]
    [InlineData(DType.BF16, 3, 96, 33)]
    public void DeepKernelGraphsMatchTheReferenceInterpreter(DType dt, int rows, int k, int n)
    {
        string? before = Environment.GetEnvironmentVariable(GpuLowering.DeepGemvVariable);
        Environment.SetEnvironmentVariable(GpuLowering.DeepGemvVariable, "1");
        try
        {
            MatchesTheReferenceInterpreter(dt, rows, k, n);
        }
        finally
        {
            Environment.SetEnvironmentVariable(GpuLowering.DeepGemvVariable, before);
        }
    }

    /// <summary>
    /// Shapes for the quad kernels launched directly: rows ending in each quad of a step of the plain form (two quads a
    /// lane) and of the deep form (<see cref="GemvKernels.GemvQuadsDeep{TW, TC, TCS}"/>, four), on warps of the test device.
    /// </summary>
    public static TheoryData<int, int, int, bool> QuadShapes()
    {
        var data = new TheoryData<int, int, int, bool>();
        foreach (bool deep in new[] { false, true })
        {
            foreach (var (rows, k, n) in new[] { (1, 8, 1), (1, 64, 7), (2, 520, 5), (3, 1032, 4), (4, 2056, 9), (1, 264, 64), (2, 2048, 3), (1, 24, 5), (4, 136, 2), (3, 200, 3) })
            {
                data.Add(rows, k, n, deep);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(QuadShapes))]
    public void QuadKernelsMatchADoublePrecisionLoop(int rows, int k, int n, bool deep)
    {
        // Activation rows and weight rows one quad longer than k apart, both from an offset of one quad, so the strides
        // and offsets the kernel takes in quads are all exercised; bf16 as well as f16.
        foreach (bool bf16 in new[] { false, true })
        {
            var rng = new Random((rows * 7919) + (k * 31) + n + (bf16 ? 1 : 0));
            int quads = k / 8, stride = k + 8;
            ushort[] a = new ushort[8 + (rows * stride)], b = new ushort[8 + (n * stride)];
            for (int i = 0; i < a.Length; i++) a[i] = Bits((float)((rng.NextDouble() * 2) - 1), bf16);
            for (int i = 0; i < b.Length; i++) b[i] = Bits((float)((rng.NextDouble() * 2) - 1), bf16);
            using var context = Context.Create(c => c.CPU().EnableAlgorithms());
            using var acc = context.CreateCPUAccelerator(0);
            using var ab = acc.Allocate1D(a);
            using var bb = acc.Allocate1D(b);
            using var cb = acc.Allocate1D<float>(rows * n);
            int warp = acc.WarpSize, group = Math.Min(GemvKernels.WarpRowsGroupSize, acc.MaxNumThreadsPerGroup) / warp * warp;
            int warpsNeeded = (n + GemvKernels.QuadRowsPerWarp - 1) / GemvKernels.QuadRowsPerWarp, perGroup = group / warp;
            var config = new KernelConfig((warpsNeeded + perGroup - 1) / perGroup, group);
            var av = ab.View.AsContiguous().Cast<Quad>();
            var bv = bb.View.AsContiguous().Cast<Quad>();
            Action<ArrayView<Quad>, ArrayView<Quad>, ArrayView<float>, int, int, int, long, long, long, long> kernel = (bf16, deep) switch
            {
                (true, false) => GemvKernels.GemvQuads<BF16Pairs, float, F32Storage>,
                (false, false) => GemvKernels.GemvQuads<HalfPairs, float, F32Storage>,
                (true, true) => GemvKernels.GemvQuadsDeep<BF16Pairs, float, F32Storage>,
                (false, true) => GemvKernels.GemvQuadsDeep<HalfPairs, float, F32Storage>,
            };
            acc.LoadStreamKernel(kernel)(config, av, bv, cb.View, rows, n, quads, 1, stride / 8, 1, stride / 8);

            acc.Synchronize();
            float[] c = cb.GetAsArray1D();
            for (int r = 0; r < rows; r++)
            {
                for (int j = 0; j < n; j++)
                {
                    double expected = 0;
                    for (int i = 0; i < k; i++) expected += Value(a[8 + (r * stride) + i], bf16) * Value(b[8 + (j * stride) + i], bf16);
                    Assert.True(Math.Abs(c[(r * n) + j] - expected) <= 1e-4 * (1 + Math.Sqrt(k)), $"{(bf16 ? "bf16" : "f16")} row {r} column {j}: {c[(r * n) + j]}, expected {expected}");
                }
            }
        }
    }

    private static ushort Bits(float v, bool bf16) =>
        bf16 ? (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16) : BitConverter.HalfToUInt16Bits((System.Half)v);

    private static double Value(ushort bits, bool bf16) =>
        bf16 ? BitConverter.UInt32BitsToSingle((uint)bits << 16) : (double)BitConverter.UInt16BitsToHalf(bits);
}
