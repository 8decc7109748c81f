using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// Sums over the leading rows of a dense row-major [rows, columns] buffer (bias gradients), read as it lies: consecutive
/// threads take consecutive columns, so every load of a warp is one coalesced row segment. <see cref="Partial{TX, TXS}"/>
/// sums chunks of rows into float32 partials (a group of up to <see cref="GroupSize"/> threads: <see cref="Columns"/>
/// columns times as many row lanes as fit; each lane of a column sums every lanes-th row of the chunk, the lanes then
/// added in order through shared memory);
/// <see cref="Finish{TY, TYS}"/> adds a column's partials in chunk order. The chunking depends on the shape alone, so
/// the sums are the same bits run after run.
/// </summary>
internal static class ColumnKernels
{
    /// <summary>Columns per group (fewer where the device's groups are smaller).</summary>
    public const int Columns = 32;

    /// <summary>Threads per group at most (32 columns × 8 row lanes).</summary>
    public const int GroupSize = 256;

    /// <summary>Groups the row chunks aim at, over all column tiles (a few per multiprocessor).</summary>
    private const int TargetGroups = 512;

    /// <summary>
    /// The row chunks of a [<paramref name="rows"/>, <paramref name="columns"/>] sum by groups of
    /// <paramref name="width"/> columns and <paramref name="lanes"/> row lanes: about <see cref="TargetGroups"/> groups
    /// in all, each chunk at least 4 rows per lane, at most 256 chunks.
    /// </summary>
    public static (int Chunks, int ChunkRows) Chunks(long rows, long columns, int width = Columns, int lanes = GroupSize / Columns)
    {
        long tiles = (columns + width - 1) / width;
        long most = Math.Max(1, rows / (4 * lanes));
        long chunks = Math.Clamp((TargetGroups + tiles - 1) / tiles, 1, Math.Min(most, 256));
        long chunkRows = (rows + chunks - 1) / chunks;
        chunks = Math.Max(1, (rows + chunkRows - 1) / Math.Max(1, chunkRows));
        return ((int)chunks, (int)Math.Max(1, chunkRows));
    }

    /// <summary>
    /// Partial sums of chunk <c>Grid.IdxX / tiles</c> (rows [chunk · chunkRows, +chunkRows)) of the
    /// <paramref name="width"/> columns of tile <c>Grid.IdxX % tiles</c> into <paramref name="part"/> [chunks, columns];
    /// the group's threads are <paramref name="width"/> columns × Group.DimX / <paramref name="width"/> row lanes.
    /// </summary>
    public static void Partial<TX, TXS>(ArrayView<TX> x, ArrayView<float> part, int rows, int columns, int chunkRows, int tiles, int width)
        where TX : unmanaged
        where TXS : struct, IStorage<TX>
        => Sums<TX, TXS>(x, x, false, part, rows, columns, chunkRows, tiles, width);

    /// <summary>
    /// <see cref="Partial{TX, TXS}"/> of the products x·x2 of two buffers of one layout (a layer norm's weight
    /// gradient, dy·x̂ summed over the tokens), each product formed in f32 as it is added.
    /// </summary>
    public static void PartialProduct<TX, TXS>(ArrayView<TX> x, ArrayView<TX> x2, ArrayView<float> part, int rows, int columns, int chunkRows, int tiles, int width)
        where TX : unmanaged
        where TXS : struct, IStorage<TX>
        => Sums<TX, TXS>(x, x2, true, part, rows, columns, chunkRows, tiles, width);

    /// <summary>The body of <see cref="Partial{TX, TXS}"/> and, with <paramref name="product"/>, of <see cref="PartialProduct{TX, TXS}"/>.</summary>
    private static void Sums<TX, TXS>(ArrayView<TX> x, ArrayView<TX> x2, bool product, ArrayView<float> part, int rows, int columns, int chunkRows, int tiles, int width)
        where TX : unmanaged
        where TXS : struct, IStorage<TX>
    {
        var lanes = SharedMemory.Allocate<float>(GroupSize);
        int tx = Group.IdxX % width, ty = Group.IdxX / width, lanesPerColumn = Group.DimX / width;
        int chunk = Grid.IdxX / tiles;
        int column = ((Grid.IdxX - (chunk * tiles)) * width) + tx;
        int start = chunk * chunkRows;
        int end = Math.Min(rows, start + chunkRows);
        float a0 = 0f, a1 = 0f, a2 = 0f, a3 = 0f;
        if (column < columns)
        {
            int r = start + ty;
            for (; r + (3 * lanesPerColumn) < end; r += 4 * lanesPerColumn)
            {
                a0 += Term<TX, TXS>(x, x2, product, ((long)r * columns) + column);
                a1 += Term<TX, TXS>(x, x2, product, ((long)(r + lanesPerColumn) * columns) + column);
                a2 += Term<TX, TXS>(x, x2, product, ((long)(r + (2 * lanesPerColumn)) * columns) + column);
                a3 += Term<TX, TXS>(x, x2, product, ((long)(r + (3 * lanesPerColumn)) * columns) + column);
            }

            for (; r < end; r += lanesPerColumn) a0 += Term<TX, TXS>(x, x2, product, ((long)r * columns) + column);
        }

        lanes[Group.IdxX] = (a0 + a1) + (a2 + a3);
        Group.Barrier();
        if (ty == 0 && column < columns)
        {
            float sum = 0f;
            for (int k = 0; k < lanesPerColumn; k++) sum += lanes[(k * width) + tx];
            part[((long)chunk * columns) + column] = sum;
        }
    }

    /// <summary>Element <paramref name="i"/> of x, or of x·x2 with <paramref name="product"/>.</summary>
    private static float Term<TX, TXS>(ArrayView<TX> x, ArrayView<TX> x2, bool product, long i)
        where TX : unmanaged
        where TXS : struct, IStorage<TX>
    {
        var s = default(TXS);
        return product ? s.Load(x, i) * s.Load(x2, i) : s.Load(x, i);
    }

    /// <summary>Column <paramref name="index"/>'s partials added in chunk order, divided by <paramref name="divisor"/> (1, or the rows for a mean).</summary>
    public static void Finish<TY, TYS>(Index1D index, ArrayView<float> part, ArrayView<TY> y, int columns, int chunks, float divisor)
        where TY : unmanaged
        where TYS : struct, IStorage<TY>
    {
        float sum = 0f;
        for (int k = 0; k < chunks; k++) sum += part[((long)k * columns) + index.X];
        default(TYS).Store(y, index.X, sum / divisor);
    }
}
