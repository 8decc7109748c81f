namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// The generated epilogue of a quantized product (<see cref="QuantMatMulKernel"/>), run on each finished tile of the
/// product while the tile is in the worker's scratch: the epilogue is an elementwise kernel over y's rows·n elements
/// that reads the product from slot <c>product</c>; for each row of a tile the worker points its own copy of the
/// plan's slots there at the tile (shifted so that the row's first element is the element the epilogue asks for) and
/// calls the epilogue over that row's range. The product's values are therefore never stored in a buffer of the plan,
/// and y may be one of the epilogue's other operands (each element is read before it is written).
/// </summary>
internal sealed unsafe class QuantTileEpilogue(KernelFn fn, nint[] slots, long[] args, int product, long n)
{
    [ThreadStatic]
    private static nint[]? t_slots;

    /// <summary>
    /// Runs the epilogue on output rows [<paramref name="row0"/>, row0 + rows) × columns [<paramref name="col0"/>,
    /// col0 + cols), whose product values are at <paramref name="tile"/>, rows <paramref name="ld"/> floats apart.
    /// </summary>
    public void Apply(float* tile, long ld, int row0, int rows, int col0, int cols)
    {
        if (rows <= 0 || cols <= 0) return;
        var local = t_slots;
        if (local is null || local.Length != slots.Length) t_slots = local = new nint[slots.Length];
        Array.Copy(slots, local, slots.Length);
        for (int r = 0; r < rows; r++)
        {
            long s = ((long)(row0 + r) * n) + col0;
            local[product] = (nint)(tile + (r * ld)) - (nint)(s * sizeof(float));
            fn(local, args, s, s + cols);
        }
    }
}
