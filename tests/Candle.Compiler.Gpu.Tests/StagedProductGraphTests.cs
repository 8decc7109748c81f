using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Tests.BackendMatrix;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// Plain 16-bit few-row products with <see cref="GpuLowering.StagedGemvVariable"/> on, against the reference
/// interpreter: the graphs of <see cref="GemvTests"/>, and activation rows sliced out of wider rows (a row stride
/// longer than k and an offset), which the staged kernel reads in octets; the products are counted as staged.
/// </summary>
[Collection(EnvironmentSwitchCollection.Name)]
public sealed class StagedProductGraphTests
{
    [Theory]
    [InlineData(DType.F16, 1, 64, 3, false)]
    [InlineData(DType.BF16, 2, 520, 7, false)]
    [InlineData(DType.F16, 4, 1032, 5, true)]
    [InlineData(DType.BF16, 3, 96, 33, true)]
    public void Staged_products_match_the_reference_interpreter(DType dt, int rows, int k, int n, bool deep)
    {
        Environment.SetEnvironmentVariable(GpuLowering.StagedGemvVariable, "1");
        Environment.SetEnvironmentVariable(GpuLowering.DeepGemvVariable, deep ? "1" : null);
        try
        {
            new GemvTests().MatchesTheReferenceInterpreter(dt, rows, k, n);

            // Rows of k + 16 elements, the product reading elements [8, k + 8) of each.
            var rng = new Random((rows * 1000) + k + n);
            var x = Input("x", dt, Shape.Of(1, rows, k + 16));
            var w = Input("w", dt, Shape.Of(n, k));
            var g = new Graph([x, w], [MatMul(Slice(x, 2, 8, k + 8), Transpose(w, 0, 1))]);
            var inputs = g.Inputs.Select(i => BackendCases.Random(rng, i.DType, [.. i.Shape.Select(d => (int)d.Value)], -1, 1)).ToArray();
            var expected = ReferenceInterpreter.Run(g, inputs);
            var (atol, rtol) = BackendCases.Tol(dt, k);
            using var exe = Assert.IsType<GpuExecutable>(CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu }));
            Assert.Null(BackendCases.Compare(expected, exe.Run(inputs), atol, rtol));
            Assert.True(exe.StagedSteps > 0, "no product was staged");
        }
        finally
        {
            Environment.SetEnvironmentVariable(GpuLowering.StagedGemvVariable, null);
            Environment.SetEnvironmentVariable(GpuLowering.DeepGemvVariable, null);
        }
    }
}
