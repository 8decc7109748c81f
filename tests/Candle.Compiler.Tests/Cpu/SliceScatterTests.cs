using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>slice_scatter: semantics by hand, the CPU plan against the reference, and in-place writes into donated inputs.</summary>
public class SliceScatterTests
{
    private static float[] Iota(int n, float start = 0) => [.. Enumerable.Range(0, n).Select(i => start + i)];

    [Fact]
    public void Reference_replaces_the_slice_and_keeps_the_rest()
    {
        // x = [[0..3], [4..7], [8..11]]; rows 1..2 become src.
        var x = HostTensor.FromArray(Iota(12), 3, 4);
        var src = HostTensor.FromArray(Iota(8, 100), 2, 4);
        var y = ReferenceInterpreter.Run(Graph(x, src, axis: 0, start: 1), [x, src])[0].ToFloat32();
        Assert.Equal([0, 1, 2, 3, 100, 101, 102, 103, 104, 105, 106, 107], y);

        // Columns 0 and 2 (step 2) of every row.
        var cols = HostTensor.FromArray(Iota(6, 50), 3, 2);
        var z = ReferenceInterpreter.Run(Graph(x, cols, axis: 1, start: 0, step: 2), [x, cols])[0].ToFloat32();
        Assert.Equal([50, 1, 51, 3, 52, 5, 53, 7, 54, 9, 55, 11], z);
    }

    [Theory]
    [InlineData(0, 0, 1)]
    [InlineData(0, 2, 1)]
    [InlineData(1, 1, 1)]
    [InlineData(1, 0, 2)]
    [InlineData(2, 3, 1)]
    public void Cpu_plan_equals_the_reference_and_leaves_a_plain_input_alone(int axis, int start, int step)
    {
        var rng = new Random(axis * 31 + start * 7 + step);
        int[] shape = [4, 5, 6];
        int len = (shape[axis] - start + step - 1) / step;
        var srcShape = shape.ToArray();
        srcShape[axis] = Math.Min(len, 2);
        var x = CpuHarness.Random(rng, DType.F32, shape);
        var src = CpuHarness.Random(rng, DType.F32, srcShape);
        var before = x.ToFloat32();
        CpuHarness.CheckAgainstReference(Graph(x, src, axis, start, step), [x, src], 0, 0);
        Assert.Equal(before, x.ToFloat32());
    }

    [Fact]
    public void A_donated_input_is_written_in_place_and_returned_as_the_output()
    {
        // cache [kv, 3] whose last row receives the new entry, as a decode step does.
        var kv = Dim.Sym("kv");
        var cache = IrBuilder.DonatedInput("cache", DType.F32, new Shape(kv, Dim.Of(3)));
        var entry = IrBuilder.Input("entry", DType.F32, Shape.Of(1, 3));
        var updated = IrBuilder.SliceScatter(cache, IrBuilder.Binary(Op.Mul, entry, 2.0), 0, kv - 1);
        var g = new Graph([cache, entry], [updated, IrBuilder.Reduce(Op.Sum, updated, [0])], ["present", "sum"]);
        using var plan = CpuHarness.Compile(g);

        var storage = Iota(5 * 3);
        var cacheTensor = HostTensor.FromArray(storage, 5, 3);
        var e = HostTensor.FromArray(new float[] { 1, 2, 3 }, 1, 3);
        var expected = ReferenceInterpreter.Run(g, [cacheTensor, e]);
        var outputs = plan.Run([cacheTensor, e]);

        // Same values as the reference, and the output is the input's memory, now holding the new row.
        CpuHarness.AssertClose(expected, outputs, 0, 0, plan.Describe);
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 2, 4, 6], cacheTensor.ToFloat32());
        outputs[0].Data.Span[0] = 0x7F;
        Assert.Equal(0x7F, cacheTensor.Data.Span[0]);
        Assert.Single(plan.Definition.Steps, s => s.Kernel == "rt:copy" && s.Label.Contains("slice_scatter", StringComparison.Ordinal));
    }

    [Fact]
    public void A_donated_input_read_by_another_node_is_copied_first()
    {
        var cache = IrBuilder.DonatedInput("cache", DType.F32, Shape.Of(4, 3));
        var entry = IrBuilder.Input("entry", DType.F32, Shape.Of(1, 3));
        var updated = IrBuilder.SliceScatter(cache, entry, 0, Dim.Of(2));
        var g = new Graph([cache, entry], [updated, IrBuilder.Reduce(Op.Sum, cache, [0])], ["present", "old_sum"]);
        using var plan = CpuHarness.Compile(g);
        var c = HostTensor.FromArray(Iota(12), 4, 3);
        var e = HostTensor.FromArray(new float[] { -1, -2, -3 }, 1, 3);
        var expected = ReferenceInterpreter.Run(g, [c, e]);
        CpuHarness.AssertClose(expected, plan.Run([c, e]), 0, 0, plan.Describe);
        Assert.Equal(Iota(12), c.ToFloat32());
    }

    [Fact]
    public void A_symbolic_slice_out_of_range_fails_instead_of_writing_outside_the_buffer()
    {
        var kv = Dim.Sym("kv");
        var cache = IrBuilder.DonatedInput("cache", DType.F32, new Shape(kv, Dim.Of(3)));
        var entry = IrBuilder.Input("entry", DType.F32, Shape.Of(2, 3));
        var g = new Graph([cache, entry], [IrBuilder.SliceScatter(cache, entry, 0, kv - 2)], ["present"]);
        using var plan = CpuHarness.Compile(g);
        var small = HostTensor.FromArray(Iota(3), 1, 3);
        var e = HostTensor.FromArray(Iota(6), 2, 3);
        var error = Assert.Throws<InvalidOperationException>(() => plan.Run([small, e]));
        Assert.Contains("slice_scatter", error.Message, StringComparison.Ordinal);
        Assert.Equal(Iota(3), small.ToFloat32());
        Assert.ThrowsAny<ArgumentException>(() => ReferenceInterpreter.Run(g, [small, e]));
    }

    [Fact]
    public void A_source_of_the_wrong_shape_is_rejected_when_traced()
    {
        var x = IrBuilder.Input("x", DType.F32, Shape.Of(4, 3));
        var src = IrBuilder.Input("src", DType.F32, Shape.Of(2, 2));
        var e = Assert.Throws<IrException>(() => IrBuilder.SliceScatter(x, src, 0, Dim.Of(1)));
        Assert.Contains("slice_scatter", e.Message, StringComparison.Ordinal);
    }

    private static Graph Graph(HostTensor x, HostTensor src, int axis, int start, int step = 1)
    {
        var xi = IrBuilder.Input("x", x.DType, Shape.Of([.. x.Shape.Select(d => (long)d)]));
        var si = IrBuilder.Input("src", src.DType, Shape.Of([.. src.Shape.Select(d => (long)d)]));
        return new Graph([xi, si], [IrBuilder.SliceScatter(xi, si, axis, Dim.Of(start), step)]);
    }
}
