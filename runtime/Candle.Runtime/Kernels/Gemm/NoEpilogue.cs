namespace Candle.Runtime.Kernels.Gemm;

/// <summary>The empty epilogue: C is left as the multiplication stored it.</summary>
public readonly unsafe struct NoEpilogue : IGemmEpilogue
{
    /// <inheritdoc />
    public void Apply(float* c, int ldc, int row0, int col0, int rows, int cols)
    {
    }
}
