namespace Candle.Runtime.Kernels.Gemm;

/// <summary>Adds a residual matrix of C's shape: C[i, j] += R[i, j].</summary>
/// <param name="residual">Address of R[0, 0] (row-major); in batched calls rows count across batches.</param>
/// <param name="rowStride">Distance in elements between consecutive rows of R.</param>
public readonly unsafe struct ResidualEpilogue(float* residual, long rowStride) : IGemmEpilogue
{
    /// <inheritdoc />
    public void Apply(float* c, int ldc, int row0, int col0, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
        {
            EpilogueMath.AddRow(c + ((long)r * ldc), residual + ((row0 + r) * rowStride) + col0, cols);
        }
    }
}
