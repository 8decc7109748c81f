using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// The group-level pieces of generated row kernels (<see cref="BroadcastReductionKernelEmitter"/>): the row and thread
/// indices of an explicitly grouped launch (one group per row) and the fold of every thread's partial accumulator
/// into the row's value, returned to every thread of the group. Sums and maxima take the device's reducer
/// (<see cref="ShuffleReducer"/> on CUDA, <see cref="SharedReducer"/> elsewhere: the <c>Shuffle</c> and <c>Shared</c>
/// forms), minima the maximum of the negated values, products a shared-memory tree. Groups are powers of two of at
/// most 1024 threads. Public only because generated kernel assemblies call them.
/// </summary>
public static class RowFolds
{
    /// <summary>The row a group takes: its index in the grid.</summary>
    public static long Row() => Grid.IdxX;

    /// <summary>The thread's index in its group.</summary>
    public static long Thread() => Group.IdxX;

    /// <summary>The threads of a group.</summary>
    public static long Threads() => Group.DimX;

    /// <summary>The group's sum by warp shuffles.</summary>
    public static float SumShuffle(float value) => default(ShuffleReducer).Sum(value);

    /// <summary>The group's sum by a shared-memory tree.</summary>
    public static float SumShared(float value) => default(SharedReducer).Sum(value);

    /// <summary>The group's maximum by warp shuffles (NaN propagates).</summary>
    public static float MaxShuffle(float value) => default(ShuffleReducer).Max(value);

    /// <summary>The group's maximum by a shared-memory tree (NaN propagates).</summary>
    public static float MaxShared(float value) => default(SharedReducer).Max(value);

    /// <summary>The group's minimum by warp shuffles: the negated maximum of the negated values.</summary>
    public static float MinShuffle(float value) => -default(ShuffleReducer).Max(-value);

    /// <summary>The group's minimum by a shared-memory tree: the negated maximum of the negated values.</summary>
    public static float MinShared(float value) => -default(SharedReducer).Max(-value);

    /// <summary>The group's product by a shared-memory tree (either device).</summary>
    public static float Prod(float value)
    {
        var s = SharedMemory.Allocate<float>(1024);
        int t = Group.IdxX;
        Group.Barrier();
        s[t] = value;
        Group.Barrier();
        for (int h = Group.DimX / 2; h > 0; h /= 2)
        {
            if (t < h) s[t] *= s[t + h];
            Group.Barrier();
        }

        return s[0];
    }
}
