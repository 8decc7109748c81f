using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// Loads and stores of one dtype's elements as 64-bit integers or floats, for the kernels of single elementwise ops
/// over integer and boolean operands (<see cref="MixedKernels"/>).
/// </summary>
internal interface IMixedStorage<T>
    where T : unmanaged
{
    long LoadLong(ArrayView<T> view, long i);

    float LoadFloat(ArrayView<T> view, long i);

    void StoreLong(ArrayView<T> view, long i, long value);

    void StoreFloat(ArrayView<T> view, long i, float value);
}

/// <summary>int64 elements.</summary>
internal readonly struct I64Mixed : IMixedStorage<long>
{
    public long LoadLong(ArrayView<long> view, long i) => view[i];

    public float LoadFloat(ArrayView<long> view, long i) => view[i];

    public void StoreLong(ArrayView<long> view, long i, long value) => view[i] = value;

    public void StoreFloat(ArrayView<long> view, long i, float value) => view[i] = (long)value;
}

/// <summary>int32 elements.</summary>
internal readonly struct I32Mixed : IMixedStorage<int>
{
    public long LoadLong(ArrayView<int> view, long i) => view[i];

    public float LoadFloat(ArrayView<int> view, long i) => view[i];

    public void StoreLong(ArrayView<int> view, long i, long value) => view[i] = unchecked((int)value);

    public void StoreFloat(ArrayView<int> view, long i, float value) => view[i] = (int)value;
}

/// <summary>int8 elements, held in a byte view.</summary>
internal readonly struct I8Mixed : IMixedStorage<byte>
{
    public long LoadLong(ArrayView<byte> view, long i) => unchecked((sbyte)view[i]);

    public float LoadFloat(ArrayView<byte> view, long i) => unchecked((sbyte)view[i]);

    public void StoreLong(ArrayView<byte> view, long i, long value) => view[i] = unchecked((byte)value);

    public void StoreFloat(ArrayView<byte> view, long i, float value) => view[i] = unchecked((byte)(sbyte)(int)value);
}

/// <summary>uint8 elements.</summary>
internal readonly struct U8Mixed : IMixedStorage<byte>
{
    public long LoadLong(ArrayView<byte> view, long i) => view[i];

    public float LoadFloat(ArrayView<byte> view, long i) => view[i];

    public void StoreLong(ArrayView<byte> view, long i, long value) => view[i] = unchecked((byte)value);

    public void StoreFloat(ArrayView<byte> view, long i, float value) => view[i] = unchecked((byte)(int)value);
}

/// <summary>Booleans, one byte each (0 or 1).</summary>
internal readonly struct BoolMixed : IMixedStorage<byte>
{
    public long LoadLong(ArrayView<byte> view, long i) => view[i] != 0 ? 1L : 0L;

    public float LoadFloat(ArrayView<byte> view, long i) => view[i] != 0 ? 1f : 0f;

    public void StoreLong(ArrayView<byte> view, long i, long value) => view[i] = value != 0 ? (byte)1 : (byte)0;

    public void StoreFloat(ArrayView<byte> view, long i, float value) => view[i] = value != 0f ? (byte)1 : (byte)0;
}

/// <summary>float32 elements.</summary>
internal readonly struct F32Mixed : IMixedStorage<float>
{
    public long LoadLong(ArrayView<float> view, long i) => (long)view[i];

    public float LoadFloat(ArrayView<float> view, long i) => view[i];

    public void StoreLong(ArrayView<float> view, long i, long value) => view[i] = value;

    public void StoreFloat(ArrayView<float> view, long i, float value) => view[i] = value;
}

/// <summary>IEEE half elements.</summary>
internal readonly struct F16Mixed : IMixedStorage<ushort>
{
    public long LoadLong(ArrayView<ushort> view, long i) => (long)GpuMath.F16ToF32(view[i]);

    public float LoadFloat(ArrayView<ushort> view, long i) => GpuMath.F16ToF32(view[i]);

    public void StoreLong(ArrayView<ushort> view, long i, long value) => view[i] = GpuMath.F32ToF16(value);

    public void StoreFloat(ArrayView<ushort> view, long i, float value) => view[i] = GpuMath.F32ToF16(value);
}

/// <summary>bfloat16 elements.</summary>
internal readonly struct BF16Mixed : IMixedStorage<ushort>
{
    public long LoadLong(ArrayView<ushort> view, long i) => (long)GpuMath.BF16ToF32(view[i]);

    public float LoadFloat(ArrayView<ushort> view, long i) => GpuMath.BF16ToF32(view[i]);

    public void StoreLong(ArrayView<ushort> view, long i, long value) => view[i] = GpuMath.F32ToBF16(value);

    public void StoreFloat(ArrayView<ushort> view, long i, float value) => view[i] = GpuMath.F32ToBF16(value);
}
