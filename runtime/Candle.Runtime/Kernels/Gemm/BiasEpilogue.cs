namespace Candle.Runtime.Kernels.Gemm;

/// <summary>Adds a per-column bias: C[i, j] += bias[j].</summary>
/// <param name="bias">N values, one per column of C; must stay valid while the multiplication runs.</param>
public readonly unsafe struct BiasEpilogue(float* bias) : IGemmEpilogue
{
    /// <inheritdoc />
    public void Apply(float* c, int ldc, int row0, int col0, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
        {
            EpilogueMath.AddRow(c + ((long)r * ldc), bias + col0, cols);
        }
    }
}
