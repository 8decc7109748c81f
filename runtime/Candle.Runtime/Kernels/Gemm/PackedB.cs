using System.Runtime.InteropServices;

namespace Candle.Runtime.Kernels.Gemm;

/// <summary>
/// The right-hand operand B[K, N] of a matrix multiplication copied once into the panel layout of the
/// microkernel, for weights that are multiplied many times (see <see cref="Sgemm.PackB(float*, int, int, int, int)"/>).
/// Owns native memory: dispose it when done (a finalizer frees it otherwise).
/// </summary>
public sealed unsafe class PackedB : IDisposable
{
    private float* _data;

    internal PackedB(int k, int n, SgemmKernelKind kind)
    {
        K = k;
        N = n;
        Kind = kind;
        PanelWidth = SgemmKernelSelector.PanelWidth(kind);
        long panels = (n + PanelWidth - 1) / PanelWidth;
        long floats = Math.Max(16, panels * PanelWidth * k);
        SizeInBytes = floats * sizeof(float);
        _data = (float*)NativeMemory.AlignedAlloc((nuint)SizeInBytes, 64);
        GC.AddMemoryPressure(SizeInBytes);
    }

    /// <summary>Finalizes the object, freeing the panels if <see cref="Dispose"/> was not called.</summary>
    ~PackedB()
    {
        Free();
    }

    /// <summary>Rows of B (the shared dimension of the multiplication).</summary>
    public int K { get; }

    /// <summary>Columns of B (the columns of the result).</summary>
    public int N { get; }

    /// <summary>Bytes of packed storage, padding included.</summary>
    public long SizeInBytes { get; }

    /// <summary>Width of one panel (the microkernel's NR).</summary>
    internal int PanelWidth { get; }

    /// <summary>The microkernel family the layout was made for.</summary>
    internal SgemmKernelKind Kind { get; }

    /// <summary>The panels: panel <c>j</c> at <c>j * K * PanelWidth</c> holds K rows of PanelWidth values.</summary>
    internal float* Data
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
