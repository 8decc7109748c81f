using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// Eight weights of one ggml block as one thread dequantizes them: <see cref="A0"/>..<see cref="A3"/> at positions
/// <see cref="P0"/>..P0+3 of the block and <see cref="B0"/>..<see cref="B3"/> at <see cref="P1"/>..P1+3.
/// </summary>
internal struct QuantUnit
{
    public float A0, A1, A2, A3, B0, B1, B2, B3;
    public int P0, P1;
}

/// <summary>
/// A ggml block type as the quantized kernels read it: the stored bytes viewed as 16-bit words (every block handled
/// here has an even size, so a block starts on a word), split into <see cref="Units"/> units of eight weights, each
/// read from a few consecutive words, so that the threads of a group reading consecutive units read consecutive bytes.
/// Dequantization is ggml's <c>dequantize_row_*</c> in float32.
/// </summary>
internal interface IQuantFormat
{
    /// <summary>The bytes of one block (even).</summary>
    int BlockBytes { get; }

    /// <summary>The weights of one block.</summary>
    int BlockWeights { get; }

    /// <summary>Units of eight weights per block (<see cref="BlockWeights"/> / 8).</summary>
    int Units { get; }

    /// <summary>Unit <paramref name="u"/> of the block starting at word <paramref name="block"/> of <paramref name="w"/>.</summary>
    QuantUnit Unit(ArrayView<ushort> w, long block, int u);
}

/// <summary>Byte access over the word view of a block.</summary>
internal static class QuantBytes
{
    /// <summary>Byte <paramref name="i"/> of the block starting at word <paramref name="block"/> (little-endian words).</summary>
    public static int Byte(ArrayView<ushort> w, long block, int i) => (w[block + (i >> 1)] >> ((i & 1) << 3)) & 0xFF;

    /// <summary>The low byte of a word as a signed value.</summary>
    public static int Low8(int h) => (h << 24) >> 24;

    /// <summary>The high byte of a word as a signed value.</summary>
    public static int High8(int h) => (h << 16) >> 24;
}

/// <summary>Q8_0: 34-byte blocks of 32 weights, an f16 scale d then 32 int8 q; w = d · q. Unit u holds weights 8u..8u+7.</summary>
internal readonly struct Q8_0Format : IQuantFormat
{
    public int BlockBytes => 34;

    public int BlockWeights => 32;

    public int Units => 4;

    public QuantUnit Unit(ArrayView<ushort> w, long block, int u)
    {
        float d = GpuMath.F16ToF32(w[block]);
        long at = block + 1 + (4 * u);
        int h0 = w[at], h1 = w[at + 1], h2 = w[at + 2], h3 = w[at + 3];
        QuantUnit r;
        r.A0 = d * QuantBytes.Low8(h0);
        r.A1 = d * QuantBytes.High8(h0);
        r.A2 = d * QuantBytes.Low8(h1);
        r.A3 = d * QuantBytes.High8(h1);
        r.B0 = d * QuantBytes.Low8(h2);
        r.B1 = d * QuantBytes.High8(h2);
        r.B2 = d * QuantBytes.Low8(h3);
        r.B3 = d * QuantBytes.High8(h3);
        r.P0 = 8 * u;
        r.P1 = (8 * u) + 4;
        return r;
    }
}

/// <summary>
/// Q4_0: 18-byte blocks of 32 weights, an f16 scale d then 16 bytes whose low nibbles are weights 0..15 and high
/// nibbles weights 16..31; w = d · (q − 8). Unit u reads bytes 4u..4u+3: weights 4u.. and 16+4u...
/// </summary>
internal readonly struct Q4_0Format : IQuantFormat
{
    public int BlockBytes => 18;

    public int BlockWeights => 32;

    public int Units => 4;

    public QuantUnit Unit(ArrayView<ushort> w, long block, int u)
    {
        float d = GpuMath.F16ToF32(w[block]);
        long at = block + 1 + (2 * u);
        int q = w[at] | (w[at + 1] << 16);
        QuantUnit r;
        r.A0 = d * ((q & 0xF) - 8);
        r.A1 = d * (((q >> 8) & 0xF) - 8);
        r.A2 = d * (((q >> 16) & 0xF) - 8);
        r.A3 = d * (((q >> 24) & 0xF) - 8);
        r.B0 = d * (((q >> 4) & 0xF) - 8);
        r.B1 = d * (((q >> 12) & 0xF) - 8);
        r.B2 = d * (((q >> 20) & 0xF) - 8);
        r.B3 = d * (((q >> 28) & 0xF) - 8);
        r.P0 = 4 * u;
        r.P1 = 16 + (4 * u);
        return r;
    }
}

/// <summary>
/// Q4_K: 144-byte super-blocks of 256 weights: f16 d and dmin, 12 bytes of 6-bit sub-block scales and minimums (8
/// sub-blocks of 32), then 128 bytes of nibbles; the 64 weights of group g are the low nibbles (sub-block 2g) then
/// the high nibbles (sub-block 2g+1) of bytes 32g..32g+31; w = d · sc · q − dmin · m. Unit u (g = u/8, j = u%8) reads
/// bytes 32g+4j..+3: weights 64g+4j.. and 64g+32+4j...
/// </summary>
internal readonly struct Q4_KFormat : IQuantFormat
{
    public int BlockBytes => 144;

    public int BlockWeights => 256;

    public int Units => 32;

    public QuantUnit Unit(ArrayView<ushort> w, long block, int u)
    {
        int g = u >> 3, j = u & 7;
        float d = GpuMath.F16ToF32(w[block]);
        float dmin = GpuMath.F16ToF32(w[block + 1]);
        int s1 = 2 * g, s2 = s1 + 1;
        int sc1, m1, sc2, m2;
        if (g < 2)
        {
            // Sub-blocks 0..3: scale and minimum in the low 6 bits of bytes j and j + 4 of the scales.
            sc1 = QuantBytes.Byte(w, block, 4 + s1) & 63;
            m1 = QuantBytes.Byte(w, block, 8 + s1) & 63;
            sc2 = QuantBytes.Byte(w, block, 4 + s2) & 63;
            m2 = QuantBytes.Byte(w, block, 8 + s2) & 63;
        }
        else
        {
            // Sub-blocks 4..7: the low 4 bits in byte j + 4, the high 2 bits in the top bits of bytes j − 4 and j.
            int a1 = QuantBytes.Byte(w, block, 4 + s1 + 4), a2 = QuantBytes.Byte(w, block, 4 + s2 + 4);
            sc1 = (a1 & 0xF) | ((QuantBytes.Byte(w, block, 4 + s1 - 4) >> 6) << 4);
            m1 = (a1 >> 4) | ((QuantBytes.Byte(w, block, 4 + s1) >> 6) << 4);
            sc2 = (a2 & 0xF) | ((QuantBytes.Byte(w, block, 4 + s2 - 4) >> 6) << 4);
            m2 = (a2 >> 4) | ((QuantBytes.Byte(w, block, 4 + s2) >> 6) << 4);
        }

        float d1 = d * sc1, mm1 = dmin * m1, d2 = d * sc2, mm2 = dmin * m2;
        long at = block + 8 + (16 * g) + (2 * j);
        int q = w[at] | (w[at + 1] << 16);
        QuantUnit r;
        r.A0 = (d1 * (q & 0xF)) - mm1;
        r.A1 = (d1 * ((q >> 8) & 0xF)) - mm1;
        r.A2 = (d1 * ((q >> 16) & 0xF)) - mm1;
        r.A3 = (d1 * ((q >> 24) & 0xF)) - mm1;
        r.B0 = (d2 * ((q >> 4) & 0xF)) - mm2;
        r.B1 = (d2 * ((q >> 12) & 0xF)) - mm2;
        r.B2 = (d2 * ((q >> 20) & 0xF)) - mm2;
        r.B3 = (d2 * ((q >> 28) & 0xF)) - mm2;
        r.P0 = (64 * g) + (4 * j);
        r.P1 = (64 * g) + 32 + (4 * j);
        return r;
    }
}
