using System.Reflection;
using System.Text.RegularExpressions;
using Candle.Compiler.Gpu.Kernels;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// The fused few-row products (plain, gated and writing a decode step's rope rows) compile to PTX without a device in every instantiation the backend launches, read their
/// operands 16 bytes a load, keep everything in registers (no local memory) and reduce with warp shuffles.
/// </summary>
public sealed class FusedGemvCodegenTests : IDisposable
{
    private readonly KernelSource _source = new();

    public void Dispose() => _source.Dispose();

    public static TheoryData<string> NormProducts() => [.. Instantiations().Select(k => k.Name)];

    private static IEnumerable<(string Name, MethodInfo Method)> Instantiations()
    {
        (Type Octets, Type Rounding, Type Element, Type Storage)[] forms =
        [
            (typeof(F32Octets), typeof(F32Rounding), typeof(float), typeof(F32Storage)),
            (typeof(HalfOctets), typeof(HalfRounding), typeof(ushort), typeof(HalfStorage)),
            (typeof(F16Octets), typeof(F16Rounding), typeof(ushort), typeof(F16Storage)),
            (typeof(BF16Octets), typeof(BF16Rounding), typeof(ushort), typeof(BF16Storage)),
        ];
        foreach (var (o, r, e, s) in forms)
        {
            foreach (var act in new[] { typeof(NoGate), typeof(SiluGate), typeof(GeluGate), typeof(GeluTanhGate) })
            {
                yield return ($"norm_gemv_{o.Name}_{act.Name}", M(nameof(FusedGemvKernels.NormGemv), o, r, act, e, s));
            }
        }
    }

    public static TheoryData<string> RopeProducts() => [.. RopeInstantiations().Select(k => k.Name)];

    private static IEnumerable<(string Name, MethodInfo Method)> RopeInstantiations() =>
        Forms().Select(f => ($"rope_gemv_{f.Octets.Name}", typeof(RopeGemvKernels).GetMethod(nameof(RopeGemvKernels.RopeGemv), BindingFlags.Public | BindingFlags.Static)!
            .MakeGenericMethod(f.Octets, f.Rounding, f.Element, f.Storage)));

    private static (Type Octets, Type Rounding, Type Element, Type Storage)[] Forms() =>
    [
        (typeof(F32Octets), typeof(F32Rounding), typeof(float), typeof(F32Storage)),
        (typeof(HalfOctets), typeof(HalfRounding), typeof(ushort), typeof(HalfStorage)),
        (typeof(F16Octets), typeof(F16Rounding), typeof(ushort), typeof(F16Storage)),
        (typeof(BF16Octets), typeof(BF16Rounding), typeof(ushort), typeof(BF16Storage)),
    ];

    private static MethodInfo M(string name, params Type[] args) =>
        typeof(FusedGemvKernels).GetMethod(name, BindingFlags.Public | BindingFlags.Static)!.MakeGenericMethod(args);

    [Theory]
    [MemberData(nameof(NormProducts))]
    public void The_norm_product_loads_sixteen_bytes_a_load_with_no_local_memory(string name)
    {
        var ptx = _source.Ptx(Instantiations().Single(k => k.Name == name).Method, true);
        Assert.DoesNotContain(".local", ptx, StringComparison.Ordinal);
        Assert.DoesNotContain("ld.global.b16", ptx, StringComparison.Ordinal);
        Assert.DoesNotContain("ld.global.u16", ptx, StringComparison.Ordinal);
        // x, the residual, the norm's weight and two weight rows: at least five 16-byte loads a pass, the sum's stores 16 bytes too.
        Assert.True(Regex.Count(ptx, @"ld\.global\.v4\.b32") >= 5, name);
        Assert.Contains("st.global.v4.b32", ptx, StringComparison.Ordinal);
        Assert.Contains("shfl.sync.bfly", ptx, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(RopeProducts))]
    public void The_rope_product_loads_sixteen_bytes_a_load_with_no_local_memory(string name)
    {
        var ptx = _source.Ptx(RopeInstantiations().Single(k => k.Name == name).Method, true);
        Assert.DoesNotContain(".local", ptx, StringComparison.Ordinal);

        // Two weight rows, x, the residual and the norm's weight 16 bytes a load; only the cos and sin tables element by element.
        Assert.True(Regex.Count(ptx, @"ld\.global\.v4\.b32") >= 5, name);
        Assert.True(Regex.Count(ptx, @"ld\.global\.(b16|u16|f32)") <= 2, name);
        Assert.Contains("st.global.v4.b32", ptx, StringComparison.Ordinal);
        Assert.Contains("shfl.sync.bfly", ptx, StringComparison.Ordinal);
    }
}
