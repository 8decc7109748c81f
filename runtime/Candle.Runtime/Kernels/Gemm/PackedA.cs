using System.Runtime.InteropServices;

namespace Candle.Runtime.Kernels.Gemm;

/// <summary>
/// The left-hand operand A[M, K] of a matrix multiplication copied once into the microkernel's row panels, each
/// covering all of K (panel t at <c>t * MR * K</c>, k at <c>k * MR</c>, zeros past the last row), for a constant
/// A multiplied many times (a convolution's weight). Owns native memory, freed by <see cref="Dispose"/> or the finalizer.
/// </summary>
internal sealed unsafe class PackedA : IDisposable
{
    private float* _data;

    /// <summary>Packs A[M, K] at <paramref name="a"/> (element (i, p) at <c>a[i * rowStride + p * colStride]</c>) for <paramref name="kind"/>.</summary>
    public PackedA(SgemmKernelKind kind, float* a, int m, int k, long rowStride, long colStride)
    {
        if (m < 0 || k < 0) throw new ArgumentException($"PackedA: A shape [{m}, {k}] has a negative dimension");
        M = m;
        K = k;
        Kind = kind;
        PanelHeight = SgemmKernelSelector.PanelHeight(kind);
        long values = Math.Max(32, (long)((m + PanelHeight - 1) / PanelHeight) * PanelHeight * k);
        SizeInBytes = values * sizeof(float);
        _data = (float*)NativeMemory.AlignedAlloc((nuint)SizeInBytes, 64);
        GC.AddMemoryPressure(SizeInBytes);
        if (m > 0 && k > 0) GemmPacking.PackA(_data, a, rowStride, colStride, m, k, PanelHeight, 1f);
    }

    /// <summary>Finalizes the object, freeing the panels if <see cref="Dispose"/> was not called.</summary>
    ~PackedA()
    {
        Free();
    }

    /// <summary>Rows of A.</summary>
    public int M { get; }

    /// <summary>Columns of A (the shared dimension).</summary>
    public int K { get; }

    /// <summary>Bytes of packed storage, padding included.</summary>
    public long SizeInBytes { get; }

    /// <summary>Height of one panel (the microkernel's MR).</summary>
    public int PanelHeight { get; }

    /// <summary>The microkernel family the layout was made for.</summary>
    public SgemmKernelKind Kind { get; }

    /// <summary>The panels.</summary>
    public float* Data
    {
        get
        {
            ObjectDisposedException.ThrowIf(_data == null, this);
            return _data;
        }
    }

    /// <summary>Frees the packed panels.</summary>
    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        if (_data != null)
        {
            NativeMemory.AlignedFree(_data);
            _data = null;
            GC.RemoveMemoryPressure(SizeInBytes);
        }
    }
}
