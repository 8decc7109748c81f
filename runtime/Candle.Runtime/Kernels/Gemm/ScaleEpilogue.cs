namespace Candle.Runtime.Kernels.Gemm;

/// <summary>Multiplies C by a constant after the multiplication: C[i, j] *= scale.</summary>
/// <param name="scale">The factor.</param>
public readonly unsafe struct ScaleEpilogue(float scale) : IGemmEpilogue
{
    /// <inheritdoc />
    public void Apply(float* c, int ldc, int row0, int col0, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
        {
            EpilogueMath.ScaleRow(c + ((long)r * ldc), scale, cols);
        }
    }
}
