namespace Candle.Runtime.Kernels.Gemm;

/// <summary>Adds an optional per-column bias, then applies an activation: C[i, j] = act(C[i, j] + bias[j]).</summary>
/// <param name="bias">N values, one per column of C, or null for no bias; must stay valid while the multiplication runs.</param>
/// <param name="activation">The activation applied after the bias.</param>
public readonly unsafe struct BiasActivationEpilogue(float* bias, GemmActivation activation) : IGemmEpilogue
{
    /// <inheritdoc />
    public void Apply(float* c, int ldc, int row0, int col0, int rows, int cols)
    {
        float* b = bias == null ? null : bias + col0;
        for (int r = 0; r < rows; r++)
        {
            EpilogueMath.BiasActivationRow(c + ((long)r * ldc), b, cols, activation);
        }
    }
}
