using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Candle.Runtime.Kernels.Quant;

namespace Candle.Runtime.Tests.Gguf;

/// <summary>
/// The portable integer dot products (<see cref="PortableIsa"/>, what runs without AVX2) against the host's AVX2 /
/// AVX-VNNI ones, and the portable byte operations against scalar computations of their definitions.
/// </summary>
/// <remarks>
/// The dots are compared bit for bit: both paths sum the same byte products exactly in int32 lanes of the same
/// grouping (lane k holds bytes 4k..4k+3), convert them to float32 and accumulate with the same fused multiply-adds in
/// the same order, so no float rounding differs. The one place the AVX2 path (without VNNI) can differ, the 16-bit
/// saturation of <c>pmaddubsw</c>, needs a pair of products above 32767, which quantized weights and activations
/// (|q| ≤ 127, unsigned values ≤ 63) never reach.
/// </remarks>
public sealed unsafe class QuantIsaTests
{
    [Theory]
    [MemberData(nameof(QuantRowDotTests.Types), MemberType = typeof(QuantRowDotTests))]
    public void The_portable_dot_equals_the_host_dot_bit_for_bit(GgmlType type)
    {
        var rng = new Random(500 + (int)type);
        var format = QuantActivations.VecDotType(type);
        int blockSize = GgmlTypeTraits.BlockSize(type);
        for (int iter = 0; iter < 100; iter++)
        {
            int n = blockSize == 256 ? 256 * rng.Next(1, 5) : 32 * rng.Next(1, 20);
            var x = new float[n];
            double scale = Math.Pow(10, rng.Next(-3, 3));
            for (int i = 0; i < n; i++) x[i] = (float)(((rng.NextDouble() * 2) - 1) * scale);
            var w = QuantRowDotTests.RandomBlocks(rng, type, n);
            var xq = new byte[QuantActivations.RowBytes(format, n)];
            QuantActivations.Quantize(format, x, xq);
            int nb = n / blockSize;
            fixed (byte* wp = w)
            fixed (byte* xp = xq)
            {
                float host = QuantRowDot.Dot<HostIsa>(type, wp, xp, nb);
                float portable = QuantRowDot.Dot<PortableIsa>(type, wp, xp, nb);
                Assert.True(BitConverter.SingleToInt32Bits(host) == BitConverter.SingleToInt32Bits(portable), $"{type} n={n}: host {host:R} vs portable {portable:R}");
            }
        }
    }

    [Fact]
    public void The_portable_byte_operations_follow_their_definitions()
    {
        var rng = new Random(3);
        var a = new byte[32];
        var b = new byte[32];
        for (int iter = 0; iter < 500; iter++)
        {
            rng.NextBytes(a);
            rng.NextBytes(b);
            if (iter == 0)
            {
                a[0] = 0x80; b[1] = 0x80; a[2] = 0; b[3] = 0; // −128 and zero, where abs and sign wrap or vanish
            }

            var sa = Vector256.Create(a).AsSByte();
            var sb = Vector256.Create(b).AsSByte();
            var abs = QuantIsa.Abs<PortableIsa>(sa);
            var sign = QuantIsa.Sign<PortableIsa>(sb, sa);
            var shuffled = QuantIsa.Shuffle<PortableIsa>(Vector256.Create(a), Vector256.Create(b));
            var dot = QuantIsa.DotU8S8<PortableIsa>(Vector256.Create(7), Vector256.Create(a), sb);
            var lanes = new int[8];
            for (int i = 0; i < 32; i++)
            {
                sbyte x = (sbyte)a[i], y = (sbyte)b[i];
                Assert.Equal((byte)Math.Abs((int)x), abs.GetElement(i));
                Assert.Equal((sbyte)(x < 0 ? -y : x == 0 ? 0 : y), sign.GetElement(i));
                byte expected = (b[i] & 0x80) != 0 ? (byte)0 : a[(i / 16 * 16) + (b[i] & 15)];
                Assert.Equal(expected, shuffled.GetElement(i));
                lanes[i / 4] += a[i] * y;
            }

            for (int k = 0; k < 8; k++) Assert.Equal(7 + lanes[k], dot.GetElement(k));

            if (Avx2.IsSupported)
            {
                Assert.Equal(Avx2.Abs(sa), abs);
                Assert.Equal(Avx2.Sign(sb, sa), sign);
                Assert.Equal(Avx2.Shuffle(Vector256.Create(a), Vector256.Create(b)), shuffled);

                // pmaddubsw saturates pairs of products to 16 bits where VNNI does not: compare within its range (u ≤ 127).
                var u = Vector256.Create(a) & Vector256.Create((byte)0x7F);
                Assert.Equal(QuantIsa.DotU8S8<HostIsa>(Vector256.Create(7), u, sb), QuantIsa.DotU8S8<PortableIsa>(Vector256.Create(7), u, sb));
            }
        }
    }
}
