using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>The portable matrix product: a shared-memory tiled GEMM for OpenCL and where cuBLAS cannot serve a call.</summary>
internal static class GemmKernels
{
    /// <summary>The largest tile edge (groups of edge × edge threads, one output element each; the launch picks the edge).</summary>
    public const int Tile = 16;

    /// <summary>Most batch dims a call may have.</summary>
    public const int MaxBatchRank = 4;

    /// <summary>
    /// C[z][m, n] = Σ A[z][m, k] · B[z][k, n] over strided A and B (element strides per row, column and batch dim;
    /// batch sizes padded with leading 1s) into a dense C; grid (⌈n/Tile⌉, ⌈m/Tile⌉, batches), f32 accumulation.
    /// </summary>
    public static void Gemm<TA, TAS, TB, TBS, TC, TCS>(
        ArrayView<TA> a, ArrayView<TB> b, ArrayView<TC> c, int m, int n, int k,
        long aOff, long aM, long aK, long bOff, long bK, long bN,
        long s0, long s1, long s2, long s3, long a0, long a1, long a2, long a3, long b0, long b1, long b2, long b3)
        where TA : unmanaged
        where TAS : struct, IStorage<TA>
        where TB : unmanaged
        where TBS : struct, IStorage<TB>
        where TC : unmanaged
        where TCS : struct, IStorage<TC>
    {
        var tileA = SharedMemory.Allocate<float>(Tile * Tile);
        var tileB = SharedMemory.Allocate<float>(Tile * Tile);
        int tile = Group.DimX;
        int tx = Group.IdxX, ty = Group.IdxY;
        int col = (Grid.IdxX * tile) + tx, row = (Grid.IdxY * tile) + ty;
        long z = Grid.IdxZ;
        long i3 = z % s3;
        z /= s3;
        long i2 = z % s2;
        z /= s2;
        long i1 = z % s1;
        long i0 = z / s1;
        _ = s0;
        long aBase = aOff + (i0 * a0) + (i1 * a1) + (i2 * a2) + (i3 * a3);
        long bBase = bOff + (i0 * b0) + (i1 * b1) + (i2 * b2) + (i3 * b3);
        float sum = 0f;
        for (int k0 = 0; k0 < k; k0 += tile)
        {
            tileA[(ty * tile) + tx] = row < m && k0 + tx < k ? default(TAS).Load(a, aBase + (row * aM) + ((k0 + tx) * aK)) : 0f;
            tileB[(ty * tile) + tx] = k0 + ty < k && col < n ? default(TBS).Load(b, bBase + ((k0 + ty) * bK) + (col * bN)) : 0f;
            Group.Barrier();
            for (int kk = 0; kk < tile; kk++) sum += tileA[(ty * tile) + kk] * tileB[(kk * tile) + tx];
            Group.Barrier();
        }

        if (row < m && col < n) default(TCS).Store(c, ((long)Grid.IdxZ * m * n) + ((long)row * n) + col, sum);
    }
}
