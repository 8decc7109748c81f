namespace Candle.Runtime.Kernels.Gemm;

/// <summary>
/// Work fused into the store of a matrix multiplication: called once for each finished tile of C
/// (all of K accumulated, alpha and beta applied) while the tile is still in cache.
/// </summary>
/// <remarks>
/// Implement it on a struct and pass it as a generic argument so the call is specialized and inlined.
/// Tiles are disjoint and may be processed concurrently from several threads on one shared instance,
/// so implementations must not mutate their own fields.
/// </remarks>
public unsafe interface IGemmEpilogue
{
    /// <summary>Transforms the tile of C whose first element is at <paramref name="c"/>.</summary>
    /// <param name="c">Address of C[<paramref name="row0"/>, <paramref name="col0"/>].</param>
    /// <param name="ldc">Distance in elements between consecutive rows of C.</param>
    /// <param name="row0">Index of the tile's first row in C (in batched calls, counted across batches: batch * M + row).</param>
    /// <param name="col0">Index of the tile's first column in C.</param>
    /// <param name="rows">Number of rows in the tile.</param>
    /// <param name="cols">Number of columns in the tile.</param>
    void Apply(float* c, int ldc, int row0, int col0, int rows, int cols);

    /// <summary>
    /// Whether the blocked driver applies the epilogue once to each work unit's whole block of C (after the unit's last
    /// K step) rather than to each tile: for an epilogue whose call costs more than the tile's work (a generated kernel
    /// called through a delegate, whose rows then span the unit's columns instead of one panel's).
    /// </summary>
    internal static virtual bool PerBlock => false;
}
