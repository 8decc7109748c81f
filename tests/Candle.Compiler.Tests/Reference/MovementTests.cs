using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using CsCheck;
using static Candle.Compiler.Tests.Reference.Ref;

namespace Candle.Compiler.Tests.Reference;

public class MovementTests
{
    // [[0, 1, 2], [3, 4, 5]]
    private static readonly HostTensor M = F32([0, 1, 2, 3, 4, 5], 2, 3);

    [Fact]
    public void ReshapeKeepsRowMajorOrder()
    {
        var r = Run(i => IrBuilder.Reshape(i[0], 3, -1), M);
        Assert.Equal([3, 2], r.ShapeArray());
        Assert.Equal(new[] { 0.0, 1, 2, 3, 4, 5 }, D(r));
    }

    [Fact]
    public void PermuteAndTranspose()
    {
        Assert.Equal(new[] { 0.0, 3, 1, 4, 2, 5 }, D(Run(i => IrBuilder.Transpose(i[0], 0, 1), M)));
        var x = F32([.. Enumerable.Range(0, 24).Select(i => (float)i)], 2, 3, 4);
        var p = Run(i => IrBuilder.Permute(i[0], 2, 0, 1), x);
        Assert.Equal([4, 2, 3], p.ShapeArray());
        // p[k, i, j] = x[i, j, k] = 12i + 4j + k
        var d = D(p);
        Assert.Equal((12 * 1) + (4 * 2) + 3, d[(3 * 6) + (1 * 3) + 2]);
    }

    [Fact]
    public void PermuteThenInversePermuteIsIdentity()
    {
        Gen.Select(Gen.Int[1, 4].Array[3], Gen.Int[0, 5], Gen.Int[0, 1000]).Sample((dims, permIndex, seed) =>
        {
            int[][] perms = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
            var perm = perms[permIndex];
            var inv = new int[3];
            for (int i = 0; i < 3; i++) inv[perm[i]] = i;
            var v = Rand(dims[0] * dims[1] * dims[2], seed);
            var x = F32(v, dims);
            // Build with Node.Create so the builder does not fold the two permutes into one.
            var r = Run(i => Node.Create(Op.Permute, new PermuteAttrs(inv), Node.Create(Op.Permute, new PermuteAttrs(perm), i[0])), x);
            Assert.Equal(dims, r.ShapeArray());
            Assert.Equal(v.Select(f => (double)f), D(r));
        }, iter: 40);
    }

    [Fact]
    public void ExpandBroadcastsSizeOneDims()
    {
        var r = Run(i => IrBuilder.Expand(i[0], Shape.Of(2, 3)), F32([7, 8], 2, 1));
        Assert.Equal(new[] { 7.0, 7, 7, 8, 8, 8 }, D(r));
        var s = Run(i => IrBuilder.Expand(i[0], Shape.Of(2, 2)), I64([5], 1));
        Assert.Equal(new long[] { 5, 5, 5, 5 }, L(s));
    }

    [Fact]
    public void SliceWithStepAndNegativeBounds()
    {
        var v = F32([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 10);
        Assert.Equal(new[] { 2.0, 4, 6 }, D(Run(i => IrBuilder.Slice(i[0], 0, 2, 7, 2), v)));
        Assert.Equal(new[] { 7.0, 8 }, D(Run(i => IrBuilder.Slice(i[0], 0, -3, -1), v)));
        Assert.Equal(new[] { 1.0, 4 }, D(Run(i => IrBuilder.Slice(i[0], 1, 1, 2), M)));
        Assert.Equal(0, Run(i => IrBuilder.Slice(i[0], 0, 4, 4), v).ElementCount);
    }

    [Fact]
    public void SliceWithSymbolicBoundsEvaluatesTheBindings()
    {
        var seq = Dim.Sym("seq");
        var x = IrBuilder.Input("x", DType.F32, new Shape(seq, 2));
        var last = IrBuilder.Narrow(x, 0, seq - 1, 1); // x[seq-1 : seq]
        var g = new Graph([x], [last]);
        var r = ReferenceInterpreter.Run(g, [F32([1, 2, 3, 4, 5, 6], 3, 2)])[0];
        Assert.Equal([1, 2], r.ShapeArray());
        Assert.Equal(new[] { 5.0, 6 }, D(r));
        r = ReferenceInterpreter.Run(g, [F32([1, 2], 1, 2)])[0];
        Assert.Equal(new[] { 1.0, 2 }, D(r));
    }

    [Fact]
    public void ConcatAlongEachAxisWithPromotion()
    {
        var a = F32([1, 2], 1, 2);
        var b = F32([3, 4, 5, 6], 2, 2);
        Assert.Equal(new[] { 1.0, 2, 3, 4, 5, 6 }, D(Run(i => IrBuilder.Concat(i, 0), a, b)));
        var c = F32([9, 8], 2, 1);
        Assert.Equal(new[] { 3.0, 4, 9, 5, 6, 8 }, D(Run(i => IrBuilder.Concat(i, 1), b, c)));
        var mixed = Run(i => IrBuilder.Concat(i, 0), I64([1], 1), Of(DType.F16, [0.5], 1));
        Assert.Equal(DType.F16, mixed.DType);
        Assert.Equal(new[] { 1.0, 0.5 }, D(mixed));
        var withEmpty = Run(i => IrBuilder.Concat(i, 0), F32([], 0, 2), a);
        Assert.Equal(new[] { 1.0, 2 }, D(withEmpty));
    }

    [Fact]
    public void ConstantPad()
    {
        // pad the last axis by (1, 2) and the first by (0, 1) with -1
        var r = Run(i => IrBuilder.Pad(i[0], [1, 2, 0, 1], -1), F32([1, 2, 3, 4], 2, 2));
        Assert.Equal([3, 5], r.ShapeArray());
        Assert.Equal(new[] { -1.0, 1, 2, -1, -1, -1, 3, 4, -1, -1, -1, -1, -1, -1, -1 }, D(r));
        var z = Run(i => IrBuilder.Pad(i[0], [1, 1]), I64([7], 1));
        Assert.Equal(new long[] { 0, 7, 0 }, L(z));
    }

    [Fact]
    public void FlipReversesAxes()
    {
        Assert.Equal(new[] { 2.0, 1, 0, 5, 4, 3 }, D(Run(i => IrBuilder.Flip(i[0], 1), M)));
        Assert.Equal(new[] { 5.0, 4, 3, 2, 1, 0 }, D(Run(i => IrBuilder.Flip(i[0], 0, 1), M)));
        Assert.Equal(new[] { 3.0, 4, 5, 0, 1, 2 }, D(Run(i => IrBuilder.Flip(i[0], -2), M)));
    }

    [Fact]
    public void UpsampleNearestRepeatsPixels()
    {
        var x = F32([1, 2, 3, 4], 1, 1, 2, 2);
        var r = Run(i => IrBuilder.UpsampleNearest(i[0], 2, 3), x);
        Assert.Equal([1, 1, 4, 6], r.ShapeArray());
        Assert.Equal(new[]
        {
            1.0, 1, 1, 2, 2, 2,
            1, 1, 1, 2, 2, 2,
            3, 3, 3, 4, 4, 4,
            3, 3, 3, 4, 4, 4,
        }, D(r));
    }

    public static TheoryData<DType> AllDTypes => [DType.F32, DType.F16, DType.BF16, DType.F64, DType.I64, DType.I32, DType.I8, DType.U8, DType.Bool];

    [Theory]
    [MemberData(nameof(AllDTypes))]
    public void MovementIsExactForEveryDType(DType dt)
    {
        double[] v = dt == DType.Bool ? [1, 0, 0, 1, 1, 0] : [1, -2, 3, 4, 5, 6];
        if (dt == DType.U8) v[1] = 2;
        var x = Of(dt, v, 2, 3);
        var t = Run(i => IrBuilder.Transpose(i[0], 0, 1), x);
        Assert.Equal(dt, t.DType);
        Assert.Equal(new[] { v[0], v[3], v[1], v[4], v[2], v[5] }, D(t));
        var c = Run(i => IrBuilder.Concat([IrBuilder.Flip(i[0], 1), i[0]], 0), x);
        Assert.Equal(new[] { v[2], v[1], v[0], v[5], v[4], v[3], v[0], v[1], v[2], v[3], v[4], v[5] }, D(c));
    }
}
