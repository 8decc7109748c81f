using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// Where a multi-pass row kernel (<see cref="RowKernels"/>) may keep its row between passes: a type parameter, so a
/// device that must not see dynamic shared memory gets kernels that never name it.
/// </summary>
internal interface IRowCache
{
    /// <summary>Whether the row may be cached at all (then the launch's <c>cached</c> flag decides).</summary>
    bool Available { get; }

    /// <summary>The cache (rowLength floats when the launch set the flag); not read when <see cref="Available"/> is false.</summary>
    ArrayView<float> Rows();
}

/// <summary>The row kept in the group's dynamic shared memory (CUDA and ILGPU's CPU accelerator).</summary>
internal readonly struct SharedRowCache : IRowCache
{
    public bool Available => true;

    public ArrayView<float> Rows() => SharedMemory.GetDynamic<float>();
}

/// <summary>
/// No cache: every pass reads the row from global memory, and the kernel uses no dynamic shared memory (OpenCL, where
/// dynamic shared memory beside the reducers' static buffers gave wrong results).
/// </summary>
internal readonly struct NoRowCache : IRowCache
{
    public bool Available => false;

    public ArrayView<float> Rows() => default;
}
