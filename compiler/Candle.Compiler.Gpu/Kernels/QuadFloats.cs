using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>Eight floats: a 16-byte <see cref="Quad"/> widened (16-bit storage fills all eight, f32 the first four).</summary>
internal struct Oct
{
    public float A;
    public float B;
    public float C;
    public float D;
    public float E;
    public float F;
    public float G;
    public float H;
}

/// <summary>How a 16-byte <see cref="Quad"/> of one storage dtype widens to floats.</summary>
internal interface IQuadFloats
{
    /// <summary>Elements in a quad: 8 for 16-bit storage, 4 for f32.</summary>
    int PerQuad { get; }

    /// <summary>The quad's elements as floats (fields past <see cref="PerQuad"/> are zero).</summary>
    Oct Widen(Quad v);
}

/// <summary>Four f32 elements per quad.</summary>
internal readonly struct F32Quads : IQuadFloats
{
    public int PerQuad => 4;

    public Oct Widen(Quad v) => new() { A = Interop.IntAsFloat(v.X), B = Interop.IntAsFloat(v.Y), C = Interop.IntAsFloat(v.Z), D = Interop.IntAsFloat(v.W) };
}

/// <summary>Eight 16-bit elements per quad, widened pairwise by <typeparamref name="TW"/>.</summary>
internal readonly struct WordQuads<TW> : IQuadFloats
    where TW : struct, IWordPairs
{
    public int PerQuad => 8;

    public Oct Widen(Quad v)
    {
        var w = default(TW);
        var (a, b) = w.Widen(v.X);
        var (c, d) = w.Widen(v.Y);
        var (e, f) = w.Widen(v.Z);
        var (g, h) = w.Widen(v.W);
        return new Oct { A = a, B = b, C = c, D = d, E = e, F = f, G = g, H = h };
    }
}
