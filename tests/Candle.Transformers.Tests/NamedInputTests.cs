using Candle.Compiler;
using Candle.Compiler.Backends;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using Candle.Torch;

namespace Candle.Transformers.Tests;

/// <summary>Plans run with inputs by name and describe their inputs and outputs (names, dtypes, symbolic shapes).</summary>
public sealed class NamedInputTests
{
    // out_diff = a - b, out_prod = a * b, over a symbolic batch: a name mix-up changes the answer.
    private static Plan Compile() => CandleCompiler.Compile(
        Tracer.Trace(
            t => [t[0] - t[1], t[0] * t[1]],
            [new TraceInput("a", DType.F32, "batch", 4L), new TraceInput("b", DType.F32, "batch", 4L)],
            ["out_diff", "out_prod"]),
        new CompileOptions { OptLevel = 1 });

    private static HostTensor T(params float[] v) => HostTensor.FromArray(v, v.Length / 4, 4);

    [Fact]
    public void Run_by_name_maps_inputs_and_outputs_by_name()
    {
        var plan = Compile();
        float[] a = [1, 2, 3, 4, 5, 6, 7, 8], b = [8, 7, 6, 5, 4, 3, 2, 1];
        // Given in the opposite order to the plan's.
        var outputs = plan.Run(new Dictionary<string, HostTensor> { ["b"] = T(b), ["a"] = T(a) });
        Assert.Equal(["out_diff", "out_prod"], outputs.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(a.Zip(b, (x, y) => x - y), outputs["out_diff"].ToFloat32());
        Assert.Equal(a.Zip(b, (x, y) => x * y), outputs["out_prod"].ToFloat32());
        Assert.Equal([2, 4], outputs["out_prod"].Shape);
    }

    [Fact]
    public void Metadata_names_dtypes_and_symbolic_shapes()
    {
        var plan = Compile();
        Assert.Equal(["a", "b"], plan.InputMetadata.Select(m => m.Name));
        Assert.Equal(["out_diff", "out_prod"], plan.OutputMetadata.Select(m => m.Name));
        var a = plan.InputMetadata[0];
        Assert.Equal(DType.F32, a.DType);
        Assert.Equal(["batch", "4"], a.SymbolicDimensions);
        Assert.Equal([-1L, 4L], a.Dimensions);
        Assert.True(a.IsDynamic);
        Assert.Equal(["batch", "4"], plan.OutputMetadata[1].SymbolicDimensions);
    }

    [Fact]
    public void Missing_or_unknown_names_are_clear_errors()
    {
        var plan = Compile();
        var missing = Assert.Throws<ArgumentException>(() => plan.Run(new Dictionary<string, HostTensor> { ["a"] = T(1, 2, 3, 4) }));
        Assert.Contains("'b' is missing", missing.Message, StringComparison.Ordinal);
        var unknown = Assert.Throws<ArgumentException>(() => plan.Run(new Dictionary<string, HostTensor> { ["a"] = T(1, 2, 3, 4), ["b"] = T(1, 2, 3, 4), ["c"] = T(1, 2, 3, 4) }));
        Assert.Contains("'c' is not an input", unknown.Message, StringComparison.Ordinal);
    }
}
