using System.Runtime.InteropServices;
using Candle.Runtime;

namespace Candle.Compiler.Gpu;

/// <summary>
/// The few cuBLAS entry points the CUDA backend uses (<c>cublasGemmEx</c>, <c>cublasGemmStridedBatchedEx</c>: fp16/bf16
/// on tensor cores with fp32 accumulation, fp32 without TF32), bound at run time from libcublas (13, then 12, then
/// unversioned) to a handle on the device's stream. Row-major products are issued as the column-major product of the
/// transposes: C = A·B is Cᵀ = Bᵀ·Aᵀ.
/// </summary>
internal sealed unsafe class Cublas : IDisposable
{
    private const int OpN = 0, OpT = 1;
    private const int ComputeF32 = 68;
    private const int AlgoDefault = -1;
    private static readonly string[] Names = ["libcublas.so.13", "libcublas.so.12", "libcublas.so", "cublas64_13", "cublas64_12"];

    private readonly nint _lib;
    private readonly nint _handle;
    private readonly delegate* unmanaged<nint, int> _destroy;
    private readonly delegate* unmanaged<nint, int, int, int, int, int, float*, nint, int, int, nint, int, int, float*, nint, int, int, int, int, int> _gemmEx;
    private readonly delegate* unmanaged<nint, int, int, int, int, int, float*, nint, int, int, long, nint, int, int, long, float*, nint, int, int, long, int, int, int, int> _gemmBatched;
    private readonly delegate* unmanaged<nint, int, int, int, int, int, float*, nint, int, int, nint, int, int, float*, nint, int, int, int, int, int, int> _gemmPointers;

    private Cublas(nint lib, nint handle)
    {
        _lib = lib;
        _handle = handle;
        _destroy = (delegate* unmanaged<nint, int>)Export(lib, "cublasDestroy_v2", "cublasDestroy");
        _gemmEx = (delegate* unmanaged<nint, int, int, int, int, int, float*, nint, int, int, nint, int, int, float*, nint, int, int, int, int, int>)Export(lib, "cublasGemmEx");
        _gemmBatched = (delegate* unmanaged<nint, int, int, int, int, int, float*, nint, int, int, long, nint, int, int, long, float*, nint, int, int, long, int, int, int, int>)Export(lib, "cublasGemmStridedBatchedEx");
        if (NativeLibrary.TryGetExport(lib, "cublasGemmBatchedEx", out var pointers))
        {
            _gemmPointers = (delegate* unmanaged<nint, int, int, int, int, int, float*, nint, int, int, nint, int, int, float*, nint, int, int, int, int, int, int>)pointers;
        }
    }

    /// <summary>Whether <see cref="GemmPointers"/> is available (<c>cublasGemmBatchedEx</c>).</summary>
    public bool HasPointerBatches => _gemmPointers != null;

    /// <summary>The library file that was loaded.</summary>
    public string? LibraryName { get; private init; }

    /// <summary>A handle on <paramref name="stream"/>, or null when no libcublas can be loaded.</summary>
    /// <exception cref="InvalidOperationException">libcublas loaded but the handle could not be created (the status is named).</exception>
    public static Cublas? TryCreate(nint stream)
    {
        foreach (var name in Names)
        {
            if (!NativeLibrary.TryLoad(name, out var lib)) continue;
            var create = (delegate* unmanaged<nint*, int>)Export(lib, "cublasCreate_v2", "cublasCreate");
            var setStream = (delegate* unmanaged<nint, nint, int>)Export(lib, "cublasSetStream_v2", "cublasSetStream");
            nint handle;
            int st = create(&handle);
            if (st != 0) throw new InvalidOperationException($"cublasCreate failed with status {st} ({name})");
            st = setStream(handle, stream);
            if (st != 0) throw new InvalidOperationException($"cublasSetStream failed with status {st} ({name})");
            return new Cublas(lib, handle) { LibraryName = name };
        }

        return null;
    }

    /// <summary>The cudaDataType of a storage dtype, or -1 when cuBLAS has none the backend uses.</summary>
    public static int DataType(DType dtype) => dtype switch
    {
        DType.F32 => 0,
        DType.F16 => 2,
        DType.BF16 => 14,
        _ => -1,
    };

    /// <summary>
    /// Row-major C[m, n] (dense, leading dim n) = A[m, k] · B[k, n], each of A and B given by a device pointer, whether
    /// it is stored transposed, and its leading dimension (in elements); <paramref name="batch"/> products spaced by the
    /// given element strides.
    /// </summary>
    /// <exception cref="InvalidOperationException">cuBLAS returned an error status.</exception>
    public void Gemm(
        DType dtype, int m, int n, int k,
        nint a, bool aTransposed, long lda, long strideA,
        nint b, bool bTransposed, long ldb, long strideB,
        nint c, long strideC, int batch)
    {
        int t = DataType(dtype);
        float alpha = 1f, beta = 0f;
        int opB = bTransposed ? OpT : OpN, opA = aTransposed ? OpT : OpN;
        int st = batch == 1
            ? _gemmEx(_handle, opB, opA, n, m, k, &alpha, b, t, (int)ldb, a, t, (int)lda, &beta, c, t, n, ComputeF32, AlgoDefault)
            : _gemmBatched(_handle, opB, opA, n, m, k, &alpha, b, t, (int)ldb, strideB, a, t, (int)lda, strideA, &beta, c, t, n, strideC, batch, ComputeF32, AlgoDefault);
        if (st != 0)
        {
            throw new InvalidOperationException($"cuBLAS gemm ({dtype.TorchName()} {m}x{n}x{k}, batch {batch}) failed with status {st}");
        }
    }

    /// <summary>
    /// Row-major C[m, n] = A[m, k] · B[k, n] for <paramref name="batch"/> products whose operands are given by device
    /// arrays of device pointers (<c>cublasGemmBatchedEx</c>): <paramref name="aArray"/>, <paramref name="bArray"/> and
    /// <paramref name="cArray"/> each hold <paramref name="batch"/> addresses; transposition and leading dims as in
    /// <see cref="Gemm"/>, C dense.
    /// </summary>
    /// <exception cref="InvalidOperationException">cuBLAS returned an error status, or has no such entry point.</exception>
    public void GemmPointers(DType dtype, int m, int n, int k, nint aArray, bool aTransposed, long lda, nint bArray, bool bTransposed, long ldb, nint cArray, int batch)
    {
        if (_gemmPointers == null) throw new InvalidOperationException($"{LibraryName} has no cublasGemmBatchedEx");
        int t = DataType(dtype);
        float alpha = 1f, beta = 0f;
        int opB = bTransposed ? OpT : OpN, opA = aTransposed ? OpT : OpN;
        int st = _gemmPointers(_handle, opB, opA, n, m, k, &alpha, bArray, t, (int)ldb, aArray, t, (int)lda, &beta, cArray, t, n, batch, ComputeF32, AlgoDefault);
        if (st != 0)
        {
            throw new InvalidOperationException($"cuBLAS batched gemm over pointer arrays ({dtype.TorchName()} {m}x{n}x{k}, batch {batch}) failed with status {st}");
        }
    }

    public void Dispose()
    {
        _ = _destroy(_handle);
        NativeLibrary.Free(_lib);
    }

    private static nint Export(nint lib, params string[] names)
    {
        foreach (var n in names)
        {
            if (NativeLibrary.TryGetExport(lib, n, out var p)) return p;
        }

        throw new EntryPointNotFoundException($"libcublas has no {string.Join(" or ", names)}");
    }
}
