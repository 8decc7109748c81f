namespace Candle.Runtime.Kernels.Gemm;

/// <summary>
/// A register-blocked GEMM microkernel: multiplies a packed <c>MR x kc</c> panel of A by a packed
/// <c>kc x NR</c> panel of B and stores the <c>MR x NR</c> product into C, plus the cache-blocking sizes it is tuned for.
/// </summary>
internal unsafe interface IMicroKernel
{
    /// <summary>Rows of the register tile (A panel height).</summary>
    static abstract int MR { get; }

    /// <summary>Columns of the register tile (B panel width).</summary>
    static abstract int NR { get; }

    /// <summary>Depth of one packed block (the k extent of the panels kept in L1/L2).</summary>
    static abstract int KC { get; }

    /// <summary>Rows of A packed at once (kept in L2); a multiple of <see cref="MR"/>.</summary>
    static abstract int MC { get; }

    /// <summary>Columns of B packed at once (kept in L3); a multiple of <see cref="NR"/>.</summary>
    static abstract int NC { get; }

    /// <summary>
    /// Computes the product of the packed panels <paramref name="a"/> (<c>kc</c> groups of MR values) and
    /// <paramref name="b"/> (<c>kc</c> rows of NR values) and stores it into the full tile at <paramref name="c"/>.
    /// </summary>
    static abstract void Run(int kc, float* a, float* b, float* c, nint ldc, GemmStoreMode mode, float beta);
}
