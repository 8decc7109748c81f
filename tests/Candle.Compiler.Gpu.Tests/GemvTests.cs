using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Tests.BackendMatrix;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// Products of a few activation rows against a weight in nn.Linear's [n, k] layout
/// (<see cref="Kernels.GemvKernels.Gemv{TA, TAS, TB, TBS, TC, TCS, TR}"/>) on ILGPU's CPU accelerator against the
/// reference interpreter: f32 weights (the 2-d product with an epilogue), f16/bf16 (batched products: one batch of
/// several rows, one row per batch against a broadcast weight), 1 to 4 rows, odd and even k, weights that are
/// constants and inputs, and shapes the kernel leaves to the tiled product (odd k, more rows). 16-bit weights with k a
/// multiple of 8 take <see cref="Kernels.GemvKernels.GemvWarps{TA, TAS, TW, TC, TCS}"/> (16-byte loads, one warp per
/// weight row), among them rows longer than a warp's first pass (k = 520, 1032) and slices at an offset of k elements.
/// </summary>
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
}
