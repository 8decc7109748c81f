using System.Reflection;
using System.Runtime.Intrinsics;
using Candle.Runtime.Kernels.Cpu.Lanes;
using Candle.Runtime.Kernels.Cpu.Ops;

namespace Candle.Runtime.Tests.Lanes;

/// <summary>
/// The elementwise operator structs: the table is a bijection of codes and names, and every op's scalar tail
/// (<see cref="Lanes1"/>) computes bit for bit what its vector body computes at 128, 256 and 512 bits.
/// </summary>
public class ElementwiseOpsTests
{
    public static TheoryData<string> UnaryNames()
    {
        var d = new TheoryData<string>();
        foreach (var op in ElementwiseOps.All.Where(o => o.Unary is not null)) d.Add(op.Name);
        return d;
    }

    [Fact]
    public void CodesAndNamesAreUnique()
    {
        Assert.Equal(ElementwiseOps.All.Count, ElementwiseOps.All.Select(o => o.Code).Distinct().Count());
        Assert.Equal(ElementwiseOps.All.Count, ElementwiseOps.All.Select(o => o.Name).Distinct().Count());
        foreach (var op in ElementwiseOps.All)
        {
            Assert.Same(op, ElementwiseOps.ByCode(op.Code));
            Assert.Same(op, ElementwiseOps.Of(op.Type));
        }
    }

    [Fact]
    public void TheListedOpsAreEveryOperatorStructOfTheRuntime()
    {
        var structs = typeof(IElementwiseOp).Assembly.GetTypes()
            .Where(t => t.IsValueType && typeof(IElementwiseOp).IsAssignableFrom(t))
            .OrderBy(t => t.FullName, StringComparer.Ordinal);
        Assert.Equal(structs, ElementwiseOps.All.Select(o => o.Type).OrderBy(t => t.FullName, StringComparer.Ordinal));
        foreach (var op in ElementwiseOps.All)
        {
            bool unary = typeof(IUnaryOp).IsAssignableFrom(op.Type), binary = typeof(IBinaryOp).IsAssignableFrom(op.Type);
            Assert.Equal(unary, op.UnaryF32 is not null);
            Assert.Equal(binary, op.BinaryF32 is not null);
        }
    }

    [Fact]
    public void FloatFormsAreTheScalarLanesForms()
    {
        // The interpreter's float32 forms are each op's Lanes1 form: compared with the lanes form called directly.
        Assert.Equal(ExpOp.Invoke<Lanes1, float>(0.37f), ElementwiseOps.Of(typeof(ExpOp)).UnaryF32!(0.37f));
        Assert.Equal(GeluOp.Invoke<Lanes1, float>(-1.3f), ElementwiseOps.Of(typeof(GeluOp)).UnaryF32!(-1.3f));
        Assert.Equal(PowOp.Invoke<Lanes1, float>(2.5f, 1.7f), ElementwiseOps.Of(typeof(PowOp)).BinaryF32!(2.5f, 1.7f));
        Assert.Equal(3f + 4.25f, ElementwiseOps.Of(typeof(AddOp)).BinaryF32!(3f, 4.25f));
    }

    [Fact]
    public void CodesOfSavedPlansAreStable()
    {
        Assert.Equal(0, ElementwiseOps.Of(typeof(NegOp)).Code);
        Assert.Equal(14, ElementwiseOps.Of(typeof(ErfOp)).Code);
        Assert.Equal(22, ElementwiseOps.Of(typeof(AddOp)).Code);
        Assert.Equal(39, ElementwiseOps.Of(typeof(WhereOp)).Code);
    }

    [Theory]
    [MemberData(nameof(UnaryNames))]
    public void TailAgreesWithVectorBody(string name)
    {
        var type = ElementwiseOps.All.Single(o => o.Name == name).Type;
        var invoke = type.GetMethods(BindingFlags.Public | BindingFlags.Static).Single(m => m.Name == "Invoke" && m.IsGenericMethodDefinition);
        var scalar = invoke.MakeGenericMethod(typeof(Lanes1), typeof(float));
        var v128 = invoke.MakeGenericMethod(typeof(Lanes128), typeof(Vector128<float>));
        var v256 = invoke.MakeGenericMethod(typeof(Lanes256), typeof(Vector256<float>));
        var v512 = invoke.MakeGenericMethod(typeof(Lanes512), typeof(Vector512<float>));
        var rng = new Random(name.Length);
        var xs = new float[512];
        for (int i = 0; i < xs.Length; i++) xs[i] = (float)((rng.NextDouble() * 60) - 30);
        xs[0] = 0f;
        xs[1] = -0f;
        xs[2] = float.NaN;
        xs[3] = float.PositiveInfinity;
        xs[4] = float.NegativeInfinity;
        xs[5] = 1e-30f;
        var expected = xs.Select(x => BitConverter.SingleToInt32Bits((float)scalar.Invoke(null, [x])!)).ToArray();
        for (int i = 0; i < xs.Length; i += 4)
        {
            var r = (Vector128<float>)v128.Invoke(null, [Vector128.Create(xs, i)])!;
            for (int k = 0; k < 4; k++) Assert.Equal(expected[i + k], BitConverter.SingleToInt32Bits(r[k]));
        }

        for (int i = 0; i < xs.Length; i += 8)
        {
            var r = (Vector256<float>)v256.Invoke(null, [Vector256.Create(xs, i)])!;
            for (int k = 0; k < 8; k++) Assert.Equal(expected[i + k], BitConverter.SingleToInt32Bits(r[k]));
        }

        for (int i = 0; i < xs.Length; i += 16)
        {
            var r = (Vector512<float>)v512.Invoke(null, [Vector512.Create(xs, i)])!;
            for (int k = 0; k < 16; k++) Assert.Equal(expected[i + k], BitConverter.SingleToInt32Bits(r[k]));
        }
    }
}
