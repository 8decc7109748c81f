namespace Candle.Runtime.Kernels.Gemm;

/// <summary>Applies two epilogues in order to each tile, e.g. a bias with activation followed by a residual add.</summary>
/// <typeparam name="TFirst">The epilogue applied first.</typeparam>
/// <typeparam name="TSecond">The epilogue applied second.</typeparam>
/// <param name="first">The epilogue applied first.</param>
/// <param name="second">The epilogue applied second.</param>
public readonly unsafe struct ChainedEpilogue<TFirst, TSecond>(TFirst first, TSecond second) : IGemmEpilogue
    where TFirst : struct, IGemmEpilogue
    where TSecond : struct, IGemmEpilogue
{
    /// <inheritdoc />
    public void Apply(float* c, int ldc, int row0, int col0, int rows, int cols)
    {
        first.Apply(c, ldc, row0, col0, rows, cols);
        second.Apply(c, ldc, row0, col0, rows, cols);
    }
}
