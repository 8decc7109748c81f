using Candle.Perf.Infrastructure;

namespace Candle.Perf.Gemm;

/// <summary>A matrix-multiplication shape C[M, N] = A[M, K] * B[K, N], shown as MxNxK.</summary>
public sealed record GemmShape(int M, int N, int K) : IHasWork
{
    public double Flops => 2.0 * M * N * K;

    public override string ToString() => $"{M}x{N}x{K}";

    /// <summary>Parses <c>MxNxK</c>.</summary>
    public static GemmShape Parse(string text)
    {
        var parts = text.Split('x');
        if (parts.Length != 3 || !int.TryParse(parts[0], out int m) || !int.TryParse(parts[1], out int n) || !int.TryParse(parts[2], out int k))
        {
            throw new FormatException($"GEMM shape '{text}' is not of the form MxNxK");
        }

        return new GemmShape(m, n, k);
    }
}
