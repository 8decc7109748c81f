using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>How a library kernel reads and writes one storage dtype as f32 (f16/bf16 widened on load, rounded on store).</summary>
/// <typeparam name="T">The view element type.</typeparam>
internal interface IStorage<T>
    where T : unmanaged
{
    float Load(ArrayView<T> view, long i);

    void Store(ArrayView<T> view, long i, float value);
}

/// <summary>f32 storage.</summary>
internal readonly struct F32Storage : IStorage<float>
{
    public float Load(ArrayView<float> view, long i) => view[i];

    public void Store(ArrayView<float> view, long i, float value) => view[i] = value;
}

/// <summary>IEEE half storage.</summary>
internal readonly struct F16Storage : IStorage<ushort>
{
    public float Load(ArrayView<ushort> view, long i) => GpuMath.F16ToF32(view[i]);

    public void Store(ArrayView<ushort> view, long i, float value) => view[i] = GpuMath.F32ToF16(value);
}

/// <summary>IEEE half storage converted by the hardware (<see cref="GpuMath.HalfToF32"/>, <see cref="GpuMath.F32ToHalf"/>): CUDA and ILGPU's CPU accelerator.</summary>
internal readonly struct HalfStorage : IStorage<ushort>
{
    public float Load(ArrayView<ushort> view, long i) => GpuMath.HalfToF32(view[i]);

    public void Store(ArrayView<ushort> view, long i, float value) => view[i] = GpuMath.F32ToHalf(value);
}

/// <summary>bfloat16 storage.</summary>
internal readonly struct BF16Storage : IStorage<ushort>
{
    public float Load(ArrayView<ushort> view, long i) => GpuMath.BF16ToF32(view[i]);

    public void Store(ArrayView<ushort> view, long i, float value) => view[i] = GpuMath.F32ToBF16(value);
}

/// <summary>
/// A reduction of one value per thread over a whole group (every thread gets the result). Warp shuffles on CUDA; a
/// shared-memory tree where sub-group shuffles are not available (OpenCL CPU devices).
/// </summary>
internal interface IGroupReducer
{
    float Sum(float value);

    float Max(float value);
}

/// <summary>Warp shuffles, then one shared-memory step across the group's warps (groups of at most 32 warps).</summary>
internal readonly struct ShuffleReducer : IGroupReducer
{
    public float Sum(float value)
    {
        for (int o = Warp.WarpSize / 2; o > 0; o /= 2) value += Warp.ShuffleXor(value, o);
        if (Group.DimX <= Warp.WarpSize) return value;
        var partial = SharedMemory.Allocate<float>(32);
        int warps = Group.DimX / Warp.WarpSize;
        Group.Barrier();
        if (Warp.LaneIdx == 0) partial[Warp.WarpIdx] = value;
        Group.Barrier();
        float v = Warp.LaneIdx < warps ? partial[Warp.LaneIdx] : 0f;
        for (int o = Warp.WarpSize / 2; o > 0; o /= 2) v += Warp.ShuffleXor(v, o);
        return v;
    }

    public float Max(float value)
    {
        for (int o = Warp.WarpSize / 2; o > 0; o /= 2) value = GpuMath.Maximum(value, Warp.ShuffleXor(value, o));
        if (Group.DimX <= Warp.WarpSize) return value;
        var partial = SharedMemory.Allocate<float>(32);
        int warps = Group.DimX / Warp.WarpSize;
        Group.Barrier();
        if (Warp.LaneIdx == 0) partial[Warp.WarpIdx] = value;
        Group.Barrier();
        float v = Warp.LaneIdx < warps ? partial[Warp.LaneIdx] : float.NegativeInfinity;
        for (int o = Warp.WarpSize / 2; o > 0; o /= 2) v = GpuMath.Maximum(v, Warp.ShuffleXor(v, o));
        return v;
    }
}

/// <summary>A shared-memory tree over the group (power-of-two groups of at most 1024 threads).</summary>
internal readonly struct SharedReducer : IGroupReducer
{
    public float Sum(float value)
    {
        var s = SharedMemory.Allocate<float>(1024);
        int t = Group.IdxX;
        Group.Barrier();
        s[t] = value;
        Group.Barrier();
        for (int h = Group.DimX / 2; h > 0; h /= 2)
        {
            if (t < h) s[t] += s[t + h];
            Group.Barrier();
        }

        return s[0];
    }

    public float Max(float value)
    {
        var s = SharedMemory.Allocate<float>(1024);
        int t = Group.IdxX;
        Group.Barrier();
        s[t] = value;
        Group.Barrier();
        for (int h = Group.DimX / 2; h > 0; h /= 2)
        {
            if (t < h) s[t] = GpuMath.Maximum(s[t], s[t + h]);
            Group.Barrier();
        }

        return s[0];
    }
}

/// <summary>
/// How a kernel reads two neighbouring elements (an even element index and the next) of one storage dtype as f32 with
/// one load where the dtype is 16-bit: the view holds the elements' pairs as 32-bit words.
/// </summary>
/// <typeparam name="T">The view element type (a word of two 16-bit elements, or a float).</typeparam>
internal interface IPairStorage<T>
    where T : unmanaged
{
    (float Lo, float Hi) LoadPair(ArrayView<T> view, long evenElement);
}

/// <summary>Two 16-bit floats packed in one 32-bit word (little-endian: element 2i in the low half), widened to f32.</summary>
internal interface IWordPairs
{
    (float Lo, float Hi) Widen(uint p);
}

/// <summary>
/// 16 bytes read with one vector load (<c>ld.global.v4.b32</c> on CUDA): eight 16-bit floats. Views of it must start
/// 16-byte aligned. Public only because generated kernel assemblies take views of it (<see cref="GpuVector"/>).
/// </summary>
[System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential, Size = 16)]
public struct Quad
{
    /// <summary>Bytes 0..3.</summary>
    public uint X;

    /// <summary>Bytes 4..7.</summary>
    public uint Y;

    /// <summary>Bytes 8..11.</summary>
    public uint Z;

    /// <summary>Bytes 12..15.</summary>
    public uint W;
}

/// <summary>f32 pairs: two loads.</summary>
internal readonly struct F32Pairs : IPairStorage<float>
{
    public (float Lo, float Hi) LoadPair(ArrayView<float> view, long evenElement) => (view[evenElement], view[evenElement + 1]);
}

/// <summary>IEEE half pairs widened by ILGPU's half conversion (one instruction on CUDA).</summary>
internal readonly struct HalfPairs : IPairStorage<uint>, IWordPairs
{
    public (float Lo, float Hi) LoadPair(ArrayView<uint> view, long evenElement) => Widen(view[evenElement >> 1]);

    public (float Lo, float Hi) Widen(uint p) => ((float)Interop.IntAsFloat((ushort)(p & 0xFFFFu)), (float)Interop.IntAsFloat((ushort)(p >> 16)));
}

/// <summary>IEEE half pairs widened in integer arithmetic (devices without half support).</summary>
internal readonly struct F16Pairs : IPairStorage<uint>, IWordPairs
{
    public (float Lo, float Hi) LoadPair(ArrayView<uint> view, long evenElement) => Widen(view[evenElement >> 1]);

    public (float Lo, float Hi) Widen(uint p) => (GpuMath.F16ToF32((ushort)(p & 0xFFFFu)), GpuMath.F16ToF32((ushort)(p >> 16)));
}

/// <summary>bfloat16 pairs.</summary>
internal readonly struct BF16Pairs : IPairStorage<uint>, IWordPairs
{
    public (float Lo, float Hi) LoadPair(ArrayView<uint> view, long evenElement) => Widen(view[evenElement >> 1]);

    public (float Lo, float Hi) Widen(uint p) => (Interop.IntAsFloat(p << 16), Interop.IntAsFloat(p & 0xFFFF0000u));
}
