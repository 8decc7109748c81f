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

    internal PackedB(int k, int n, SgemmKernelKind kind, bool bf16 = false)
    {
        K = k;
        N = n;
        Kind = kind;
        IsBf16 = bf16;
        PanelWidth = SgemmKernelSelector.PanelWidth(kind);
        long panels = (n + PanelWidth - 1) / PanelWidth;
        long values = Math.Max(32, panels * PanelWidth * k);
        SizeInBytes = values * (bf16 ? sizeof(ushort) : sizeof(float));
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

    /// <summary>
    /// Whether the panels hold bfloat16 values (a bfloat16 weight kept at its own width: products widen each value to
    /// float32 as they read it, exactly) rather than float32 ones.
    /// </summary>
    internal bool IsBf16 { get; }

    /// <summary>The float32 panels: panel <c>j</c> at <c>j * K * PanelWidth</c> holds K rows of PanelWidth values.</summary>
    internal float* Data
    {
        get
        {
            ObjectDisposedException.ThrowIf(_data == null, this);
            if (IsBf16) throw new InvalidOperationException("the panels hold bfloat16 values");
            return _data;
        }
    }

    /// <summary>The bfloat16 panels, in the layout of <see cref="Data"/>.</summary>
    internal ushort* Bf16Data
    {
        get
        {
            ObjectDisposedException.ThrowIf(_data == null, this);
            if (!IsBf16) throw new InvalidOperationException("the panels hold float32 values");
            return (ushort*)_data;
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
