using System.Reflection;
using System.Text.RegularExpressions;
using Candle.Compiler.Gpu.Kernels;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// The staged few-row products (<see cref="StagedGemvKernels"/>) compile to PTX without a device in every instantiation
/// the backend launches: 16-byte weight loads, 16-byte shared reads of the staged rows, no local memory, and a weight
/// loop (everything after the group barrier) that converts only the weight elements: far fewer conversions than
/// <see cref="FusedGemvKernels.NormGemv{TS, TR, TA, TC, TCS}"/>'s loop.
/// </summary>
public sealed class StagedGemvCodegenTests : IDisposable
{
    private readonly KernelSource _source = new();

    public void Dispose() => _source.Dispose();

    public static TheoryData<string> Kernels() => [.. Instantiations().Select(k => k.Name)];

    private static IEnumerable<(string Name, MethodInfo Method, MethodInfo Unstaged, int Depth, int QuadsPerOctet)> Instantiations()
    {
        (Type Octets, Type Rounding, Type Element, Type Storage, int Quads)[] forms =
        [
            (typeof(F32Octets), typeof(F32Rounding), typeof(float), typeof(F32Storage), 2),
            (typeof(HalfOctets), typeof(HalfRounding), typeof(ushort), typeof(HalfStorage), 1),
            (typeof(F16Octets), typeof(F16Rounding), typeof(ushort), typeof(F16Storage), 1),
            (typeof(BF16Octets), typeof(BF16Rounding), typeof(ushort), typeof(BF16Storage), 1),
        ];
        foreach (var (o, r, e, s, quads) in forms)
        {
            foreach (var act in new[] { typeof(NoGate), typeof(SiluGate), typeof(GeluGate), typeof(GeluTanhGate) })
            {
                var unstaged = typeof(FusedGemvKernels).GetMethod(nameof(FusedGemvKernels.NormGemv), BindingFlags.Public | BindingFlags.Static)!.MakeGenericMethod(o, r, act, e, s);
                yield return ($"staged_{o.Name}_{act.Name}", M(nameof(StagedGemvKernels.StagedGemv), o, r, act, e, s), unstaged, 2, quads);
                yield return ($"staged_deep_{o.Name}_{act.Name}", M(nameof(StagedGemvKernels.StagedGemvDeep), o, r, act, e, s), unstaged, GemvKernels.DeepQuadsPerLane, quads);
            }
        }
    }

    private static MethodInfo M(string name, params Type[] args) =>
        typeof(StagedGemvKernels).GetMethod(name, BindingFlags.Public | BindingFlags.Static)!.MakeGenericMethod(args);

    [Theory]
    [MemberData(nameof(Kernels))]
    public void The_staged_product_reads_shared_rows_and_converts_only_weights_in_its_loop(string name)
    {
        var k = Instantiations().Single(i => i.Name == name);
        var ptx = _source.Ptx(k.Method, true);
        Assert.DoesNotContain(".local", ptx, StringComparison.Ordinal);
        Assert.DoesNotContain("ld.global.b16", ptx, StringComparison.Ordinal);
        Assert.DoesNotContain("ld.global.u16", ptx, StringComparison.Ordinal);
        Assert.Contains("st.shared.v4.b32", ptx, StringComparison.Ordinal);
        int barrier = ptx.IndexOf("bar.sync", StringComparison.Ordinal);
        Assert.True(barrier > 0, $"{name}: no group barrier");
        string loop = ptx[barrier..];

        // Each lane's loads of its two weight rows, depth octets each, and the staged octets' two 16-byte shared reads.
        Assert.True(Regex.Count(loop, @"ld\.global\.v4\.b32") >= 2 * k.Depth * k.QuadsPerOctet, $"{name}: too few 16-byte weight loads");
        Assert.True(Regex.Count(loop, @"ld\.shared\.v4\.b32") >= 2 * k.Depth, $"{name}: too few 16-byte shared reads");
        Assert.DoesNotContain("ld.shared.f32", loop, StringComparison.Ordinal);
        Assert.Contains("shfl.sync.bfly", loop, StringComparison.Ordinal);

        // Conversions of data (not of indices) in the weight loop: a hardware half's only the weight elements, and for
        // every 16-bit form far fewer than the unstaged kernel's loop, which widens and rounds the activation too.
        int staged = DataConversions(loop), unstaged = DataConversions(_source.Ptx(k.Unstaged, true));
        if (name.Contains(nameof(HalfOctets), StringComparison.Ordinal))
        {
            Assert.Equal(8 * 2 * k.Depth, Regex.Count(loop, @"cvt\.f32\.f16"));
        }

        if (unstaged > 0) Assert.True(3 * staged <= unstaged, $"{name}: {staged} conversions in the staged loop against {unstaged} unstaged");
        else Assert.Equal(0, staged);
    }

    /// <summary>The cvt instructions other than index and length ones (64-bit widening of 32-bit indices, int to float of a length).</summary>
    private static int DataConversions(string ptx) =>
        Regex.Count(ptx, @"\bcvt\.") - Regex.Count(ptx, @"\bcvt\.s64\.s32") - Regex.Count(ptx, @"\bcvt\.rn\.f32\.s32");
}
