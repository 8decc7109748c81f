using Candle.Compiler.Gpu.Kernels;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// <see cref="StagedGemvKernels.StagedGemv{TS, TR, TA, TC, TCS}"/> and its deep form launched directly on ILGPU's CPU
/// accelerator against a double-precision loop: f16 and bf16, 1 to 4 rows, lengths with partial warp steps, odd
/// widths, with and without a norm, residual and norm weight, plain and gated (silu, gelu, the up rows first), several
/// groups sharing the sum; outputs start as NaN, so every element must be written, and the sum only where asked.
/// </summary>
public sealed class StagedGemvTests
{
    /// <summary>What a case computes: the flags of the launch and the gate.</summary>
    public enum Form
    {
        /// <summary>rms_norm(x + residual) · g, the sum written.</summary>
        NormResidualWeightSum,

        /// <summary>rms_norm(x), no weight, no residual.</summary>
        Norm,

        /// <summary>rms_norm(x) · g, gated by silu.</summary>
        NormWeightSilu,

        /// <summary>rms_norm(x + residual) without writing the sum, gated by gelu, up rows first.</summary>
        NormResidualGeluUpFirst,

        /// <summary>x as it is, rows one octet longer than k apart.</summary>
        Plain,

        /// <summary>x as it is, gated by silu, up rows first.</summary>
        PlainSiluUpFirst,
    }

    public static TheoryData<Form, int, int, int, bool, bool, int> Cases()
    {
        var data = new TheoryData<Form, int, int, int, bool, bool, int>();
        (int Rows, int K, int N)[] sizes = [(1, 8, 1), (2, 264, 7), (3, 520, 33), (4, 1032, 5), (1, 2056, 3)];
        int i = 0;
        foreach (var form in Enum.GetValues<Form>())
        {
            foreach (var (rows, k, n) in sizes)
            {
                // bf16 every other case, the deep form every third, two-warp groups (several groups) every other.
                data.Add(form, rows, k, n, i % 2 == 1, i % 3 == 2, i % 2 == 0 ? 2 : 8);
                i++;
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_staged_kernel_matches_a_double_precision_loop(Form form, int rows, int k, int n, bool bf16, bool deep, int warpsPerGroup)
    {
        bool normalizes = form is Form.NormResidualWeightSum or Form.Norm or Form.NormWeightSilu or Form.NormResidualGeluUpFirst;
        bool residual = form is Form.NormResidualWeightSum or Form.NormResidualGeluUpFirst, weighted = form is Form.NormResidualWeightSum or Form.NormWeightSilu;
        bool writes = form == Form.NormResidualWeightSum, upFirst = form is Form.NormResidualGeluUpFirst or Form.PlainSiluUpFirst;
        int gate = form switch { Form.NormWeightSilu or Form.PlainSiluUpFirst => 1, Form.NormResidualGeluUpFirst => 2, _ => 0 };
        int flags = (normalizes ? FusedGemvKernels.Normalizes : 0) | (residual ? FusedGemvKernels.HasResidual : 0) | (weighted ? FusedGemvKernels.HasWeight : 0)
            | (writes ? FusedGemvKernels.WritesSum : 0) | (upFirst ? FusedGemvKernels.UpFirst : 0);
        var rng = new Random((rows * 7919) + (k * 31) + n + ((int)form * 101) + (bf16 ? 1 : 0));
        int octets = k / 8, xStride = normalizes ? octets : octets + 1, stride = k + 8, weightRows = gate > 0 ? 2 * n : n;
        ushort nan = bf16 ? (ushort)0x7FC0 : (ushort)0x7E00;
        ushort[] x = Bits(rng, rows * xStride * 8, bf16, 1), r = Bits(rng, rows * k, bf16, 1), g = Bits(rng, k, bf16, 2);
        ushort[] b = Bits(rng, 8 + (weightRows * stride), bf16, 1), sumInit = Enumerable.Repeat(nan, rows * k).ToArray();
        using var context = Context.Create(c => c.CPU().EnableAlgorithms());
        using var acc = context.CreateCPUAccelerator(0);
        using var xb = acc.Allocate1D(x);
        using var rb = acc.Allocate1D(r);
        using var gb = acc.Allocate1D(g);
        using var bb = acc.Allocate1D(b);
        using var sb = acc.Allocate1D(sumInit);
        using var cb = acc.Allocate1D(Enumerable.Repeat(float.NaN, rows * n).ToArray());
        int warp = acc.WarpSize, group = Math.Min(warpsPerGroup * warp, acc.MaxNumThreadsPerGroup) / warp * warp, perGroup = group / warp;
        int warps = gate > 0 ? n : (n + 1) / 2;
        var shared = SharedMemoryConfig.RequestDynamic<Quad>((int)StagedGemvKernels.SharedQuads(rows, octets, perGroup));
        var config = new KernelConfig(new Index1D((warps + perGroup - 1) / perGroup), new Index1D(group), shared);
        const float eps = 1e-5f;
        var launch = (bf16, gate) switch
        {
            (false, 0) => Launcher<HalfOctets, HalfRounding, NoGate>(acc, deep),
            (false, 1) => Launcher<HalfOctets, HalfRounding, SiluGate>(acc, deep),
            (false, _) => Launcher<HalfOctets, HalfRounding, GeluGate>(acc, deep),
            (true, 0) => Launcher<BF16Octets, BF16Rounding, NoGate>(acc, deep),
            (true, 1) => Launcher<BF16Octets, BF16Rounding, SiluGate>(acc, deep),
            (true, _) => Launcher<BF16Octets, BF16Rounding, GeluGate>(acc, deep),
        };
        launch(config, xb.View.AsContiguous().Cast<Quad>(), rb.View.AsContiguous().Cast<Quad>(), sb.View.AsContiguous().Cast<Quad>(), gb.View.AsContiguous().Cast<Quad>(),
            bb.View.AsContiguous().SubView(8).Cast<Quad>(), cb.View, rows, n, octets, flags, eps, stride / 8, xStride);
        acc.Synchronize();
        float[] c = cb.GetAsArray1D();
        ushort[] sum = sb.GetAsArray1D();
        string which = $"{form} {(bf16 ? "bf16" : "f16")}{(deep ? " deep" : "")}";
        for (int row = 0; row < rows; row++)
        {
            var s = new double[k];
            double squares = 0;
            for (int i = 0; i < k; i++)
            {
                double v = Value(x[(row * xStride * 8) + i], bf16);
                if (residual)
                {
                    // The sum as the norm stores it: x + r rounded to the dtype (exact in double before the rounding).
                    ushort bits = Round(v + Value(r[(row * k) + i], bf16), bf16);
                    ushort want = writes ? bits : nan;
                    Assert.True(want == sum[(row * k) + i], $"{which} sum row {row} element {i}: {sum[(row * k) + i]:x4}, expected {want:x4}");
                    v = Value(bits, bf16);
                }

                s[i] = v;
                squares += v * v;
            }

            if (!residual) Assert.All(sum, e => Assert.Equal(nan, e));
            double rstd = normalizes ? 1 / Math.Sqrt((squares / k) + eps) : 1;
            for (int j = 0; j < n; j++)
            {
                double Dot(int weightRow)
                {
                    double d = 0;
                    for (int i = 0; i < k; i++) d += s[i] * rstd * (weighted ? Value(g[i], bf16) : 1) * Value(b[8 + (weightRow * stride) + i], bf16);
                    return d;
                }

                double expected, scale = 1;
                if (gate == 0) expected = Dot(j);
                else
                {
                    double gv = Dot(upFirst ? n + j : j), up = Dot(upFirst ? j : n + j);
                    expected = (gate == 1 ? gv / (1 + Math.Exp(-gv)) : 0.5 * gv * (1 + Erf(gv / Math.Sqrt(2)))) * up;
                    scale = 1 + Math.Abs(up);
                }

                float actual = c[(row * n) + j];
                Assert.True(Math.Abs(actual - expected) <= 1e-4 * (1 + Math.Sqrt(k)) * scale, $"{which} row {row} column {j}: {actual}, expected {expected}");
            }
        }
    }

    private static Action<KernelConfig, ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<float>, int, int, int, int, float, long, long> Launcher<TS, TR, TA>(
        Accelerator acc, bool deep)
        where TS : struct, IOctetStorage
        where TR : struct, IOctetRounding
        where TA : struct, IGateActivation =>
        acc.LoadStreamKernel<ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<float>, int, int, int, int, float, long, long>(
            deep ? StagedGemvKernels.StagedGemvDeep<TS, TR, TA, float, F32Storage> : StagedGemvKernels.StagedGemv<TS, TR, TA, float, F32Storage>);

    /// <summary>erf to about 1e-7 (Abramowitz and Stegun 7.1.26).</summary>
    private static double Erf(double v)
    {
        double t = 1 / (1 + (0.3275911 * Math.Abs(v)));
        double poly = ((((((((1.061405429 * t) - 1.453152027) * t) + 1.421413741) * t) - 0.284496736) * t) + 0.254829592) * t;
        double y = 1 - (poly * Math.Exp(-v * v));
        return v < 0 ? -y : y;
    }

    private static ushort[] Bits(Random rng, int count, bool bf16, double scale)
    {
        var bits = new ushort[count];
        for (int i = 0; i < count; i++) bits[i] = Round(scale * ((rng.NextDouble() * 2) - 1), bf16);
        return bits;
    }

    private static ushort Round(double v, bool bf16)
    {
        if (!bf16) return BitConverter.HalfToUInt16Bits((System.Half)v);
        uint f = BitConverter.SingleToUInt32Bits((float)v);
        return (ushort)((f + 0x7FFFu + ((f >> 16) & 1u)) >> 16);
    }

    private static double Value(ushort bits, bool bf16) =>
        bf16 ? BitConverter.UInt32BitsToSingle((uint)bits << 16) : (double)BitConverter.UInt16BitsToHalf(bits);
}
