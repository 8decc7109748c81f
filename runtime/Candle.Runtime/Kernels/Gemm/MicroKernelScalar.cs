namespace Candle.Runtime.Kernels.Gemm;

/// <summary>The portable microkernel: a 4x8 tile of C computed with scalar multiply-adds.</summary>
internal readonly unsafe struct MicroKernelScalar : IMicroKernel
{
    public static int MR => 4;

    public static int NR => 8;

    public static int KC => 256;

    public static int MC => 64;

    public static int NC => 2048;

    public static void Run(int kc, float* a, float* b, float* c, nint ldc, GemmStoreMode mode, float beta)
    {
        float* acc = stackalloc float[4 * 8];
        new Span<float>(acc, 32).Clear();
        for (int p = 0; p < kc; p++)
        {
            for (int i = 0; i < 4; i++)
            {
                float ai = a[i];
                float* row = acc + (i * 8);
                for (int j = 0; j < 8; j++)
                {
                    row[j] += ai * b[j];
                }
            }

            a += 4;
            b += 8;
        }

        for (int i = 0; i < 4; i++)
        {
            float* crow = c + (i * ldc);
            float* row = acc + (i * 8);
            for (int j = 0; j < 8; j++)
            {
                crow[j] = mode switch
                {
                    GemmStoreMode.Overwrite => row[j],
                    GemmStoreMode.Accumulate => row[j] + crow[j],
                    _ => row[j] + (beta * crow[j]),
                };
            }
        }
    }
}
