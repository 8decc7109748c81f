using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Candle.Runtime.Kernels.Cpu.Lanes;
using Candle.Runtime.Kernels.Cpu.Ops;
using Candle.Runtime.Kernels.Gemm;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// The epilogue of <c>rt:conv_gemm</c> on a finished tile of y (rows: output channels, columns: output positions):
/// y = relu((y + bias[channel]) + residual), each part optional, in that order (the order of the unfused ops, so the
/// same floats). The residual is dense in y's layout, <see cref="ResidualOffset"/> floats from y.
/// </summary>
/// <param name="bias">The group's bias (indexed by the tile's row), or null.</param>
/// <param name="residualOffset">The residual's distance from y in floats (used when <paramref name="residual"/>).</param>
/// <param name="residual">Whether a residual is added.</param>
/// <param name="relu">Whether ReLU is applied last.</param>
internal readonly unsafe struct ConvTileEpilogue(float* bias, long residualOffset, bool residual, bool relu) : IGemmEpilogue
{
    /// <summary>The residual's distance from y in floats.</summary>
    public long ResidualOffset => residualOffset;

    /// <summary>Whether a residual is added.</summary>
    public bool Residual => residual;

    /// <summary>Whether ReLU is applied last.</summary>
    public bool Relu => relu;

    /// <summary>Whether the epilogue does anything.</summary>
    public bool Active => bias != null || residual || relu;

    /// <inheritdoc/>
    public void Apply(float* c, int ldc, int row0, int col0, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
        {
            float* x = c + ((long)r * ldc);
            Row(x, bias == null ? 0f : bias[row0 + r], bias != null, residual ? x + residualOffset : null, cols);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Row(float* x, float b, bool hasBias, float* res, int n)
    {
        var vb = Vector256.Create(b);
        int j = 0;
        for (; j + 8 <= n; j += 8)
        {
            var v = Vector256.Load(x + j);
            if (hasBias) v += vb;
            if (res != null) v += Vector256.Load(res + j);
            if (relu) v = ReluOp.Invoke<Lanes256, Vector256<float>>(v);
            v.Store(x + j);
        }

        for (; j < n; j++)
        {
            float v = x[j];
            if (hasBias) v += b;
            if (res != null) v += res[j];
            if (relu) v = ReluOp.Invoke<Lanes1, float>(v);
            x[j] = v;
        }
    }
}
