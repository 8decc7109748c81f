using Candle.Perf.Infrastructure;

namespace Candle.Perf.Gemm;

/// <summary>A matrix-multiplication shape C[M, N] = A[M, K] * B[K, N], shown as MxNxK.</summary>
public sealed record GemmShape(int M, int N, int K) : IHasWork
{
    public double Flops => 2.0 * M * N * K;

    public override string ToString() => $"{M}x{N}x{K}";
}
