using System.Runtime.InteropServices;

namespace Candle.Runtime.Kernels.Gemm;

/// <summary>
/// Per-thread, 64-byte aligned scratch memory for packed panels, reused across calls and freed when
/// the owning thread ends.
/// </summary>
internal static unsafe class GemmBuffers
{
    [ThreadStatic]
    private static Buffer? t_a;

    [ThreadStatic]
    private static Buffer? t_b;

    [ThreadStatic]
    private static Buffer? t_x;

    [ThreadStatic]
    private static Buffer? t_w;

    [ThreadStatic]
    private static Buffer? t_u;

    [ThreadStatic]
    private static Buffer? t_band;

    /// <summary>Scratch for the packed block of A used by the current thread.</summary>
    public static float* A(long floats) => (t_a ??= new Buffer()).Get(floats);

    /// <summary>Scratch for the packed block of B owned by the calling thread of one multiplication.</summary>
    public static float* B(long floats) => (t_b ??= new Buffer()).Get(floats);

    /// <summary>Scratch for a contiguous copy of a vector operand.</summary>
    public static float* X(long floats) => (t_x ??= new Buffer()).Get(floats);

    /// <summary>The calling thread's buffer for a block of bfloat16 panels widened to float32.</summary>
    public static float* W(long floats) => (t_w ??= new Buffer()).Get(floats);

    /// <summary>The calling thread's buffer for convolution windows unfolded into B panels.</summary>
    public static float* Unfolded(long floats) => (t_u ??= new Buffer()).Get(floats);

    /// <summary>The calling thread's buffer for a band of a convolution's output rows pooled before they leave the cache.</summary>
    public static float* ConvBand(long floats) => (t_band ??= new Buffer()).Get(floats);

    private sealed class Buffer
    {
        private float* _data;
        private long _floats;

        ~Buffer()
        {
            NativeMemory.AlignedFree(_data);
        }

        public float* Get(long floats)
        {
            if (floats > _floats)
            {
                NativeMemory.AlignedFree(_data);
                _data = null;
                _floats = 0;
                long size = Math.Max(floats, 1024);
                _data = (float*)NativeMemory.AlignedAlloc((nuint)(size * sizeof(float)), 64);
                _floats = size;
            }

            return _data;
        }
    }
}
