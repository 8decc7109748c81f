using Candle.Runtime.Kernels.Cpu;
using Candle.Runtime.Kernels.Gemm;

namespace Candle.Runtime.Tests.Gemm;

/// <summary>
/// The process-wide packed-weight cache behind <c>rt:gemm</c>: plans over one weight share one packed copy, one-row
/// products never pack but read the panels once any plan packed them, another weight at the same address is packed anew, and bfloat16 weights are read (GEMV) and
/// packed (GEMM) as stored; every product is checked against a plain triple loop.
/// </summary>
[Collection(nameof(PackedWeightCacheTests))]
public unsafe class PackedWeightCacheTests
{
    private const int K = 37, N = 29;

    [Fact]
    public void TwoPlansOverOneWeightShareOnePackedCopy()
    {
        var w = Weight(seed: 1);
        long before = PackedWeightCache.Packs;
        var first = Prepare(w, w);
        var second = Prepare(w, w);
        Assert.Equal(before, PackedWeightCache.Packs);

        CheckProduct(first, w, rows: 5);
        Assert.Equal(before + 1, PackedWeightCache.Packs);
        CheckProduct(second, w, rows: 9);
        CheckProduct(first, w, rows: 2);
        Assert.Equal(before + 1, PackedWeightCache.Packs);
        GC.KeepAlive(first);
        GC.KeepAlive(second);
    }

    [Fact]
    public void OneRowProductsNeverPack()
    {
        var w = Weight(seed: 2);
        long before = PackedWeightCache.Packs;
        var fn = Prepare(w, w);
        for (int i = 0; i < 3; i++) CheckProduct(fn, w, rows: 1);
        Assert.Equal(before, PackedWeightCache.Packs);
    }

    [Fact]
    public void OnceAnyPlanPackedAWeightOneRowProductsReadThePanels()
    {
        var w = Weight(seed: 4);
        var original = (float[])w.Clone();
        var prefill = Prepare(w, w);
        var decode = Prepare(w, w);
        CheckProduct(decode, original, rows: 1, w);
        CheckProduct(prefill, original, rows: 6, w);

        // The original is no longer read: products of one row, in either plan, come from the panels packed above.
        Array.Clear(w);
        CheckProduct(decode, original, rows: 1, w);
        CheckProduct(prefill, original, rows: 1, w);
        GC.KeepAlive(prefill);
    }

    [Fact]
    public void PackingAMappedWeightGivesItsPagesBackAndProductsStayExact()
    {
        // A weight spanning several pages, memory-mapped from a safetensors file as checkpoints are.
        const int k = 512, n = 64;
        var rng = new Random(11);
        var values = Enumerable.Range(0, n * k).Select(_ => (rng.NextSingle() * 2) - 1).ToArray();
        string path = Path.Combine(Path.GetTempPath(), $"candle-mapped-{Guid.NewGuid():N}.safetensors");
        try
        {
            var tensor = new Tensors.HostTensor(DType.F32, [n, k], System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
            Weights.SafeTensors.SafeTensorsWriter.Write(path, [new("w", tensor)]);
            using var file = Weights.SafeTensors.SafeTensorsFile.Open(path);
            var mapped = file.Get("w");
            Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetMemoryManager<byte, System.Buffers.MemoryManager<byte>>(mapped.Data, out var owner));
            using var pin = mapped.Data.Pin();
            nint address = (nint)pin.Pointer;
            long?[] constants = [0, 0, k, 1, 1, 0, 1, k, 2, null, n, k, 1, 0];
            var fn = GemmKernel.Prepare(new KernelPreparation(constants, s => s == 1 ? address : 0, null, s => s == 1 ? owner : null));
            long dropped = Memory.ResidentPages.BytesDropped;
            foreach (int rows in new[] { 3, 1 })
            {
                var a = GC.AllocateArray<float>(rows * k, pinned: true);
                for (int i = 0; i < a.Length; i++) a[i] = (rng.NextSingle() * 2) - 1;
                var c = GC.AllocateArray<float>(rows * n, pinned: true);
                fixed (float* pa = a)
                fixed (float* pc = c)
                {
                    fn([(nint)pa, address, (nint)pc], [0, 0, k, 1, 1, 0, 1, k, 2, rows, n, k, 1, 0], 0, 1);
                }

                for (int i = 0; i < rows; i++)
                {
                    for (int j = 0; j < n; j++)
                    {
                        double expected = 0;
                        for (int p = 0; p < k; p++) expected += (double)a[(i * k) + p] * values[(j * k) + p];
                        Assert.Equal(expected, c[(i * n) + j], 1e-4);
                    }
                }
            }

            if (OperatingSystem.IsLinux()) Assert.True(Memory.ResidentPages.BytesDropped > dropped, "the mapped weight's pages were not given back");

            // The mapping still reads the file's values after its pages were dropped.
            Assert.Equal(values, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(mapped.Data.Span).ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void AnotherOwnerAtTheSameAddressIsPackedAgain()
    {
        var w = Weight(seed: 3);
        long before = PackedWeightCache.Packs;
        var first = Prepare(w, w);
        CheckProduct(first, w, rows: 4);

        // Same memory, claimed by another owner (as when freed memory is reused): the old copy must not be served.
        var second = Prepare(w, new object());
        CheckProduct(second, w, rows: 4);
        Assert.Equal(before + 2, PackedWeightCache.Packs);
        GC.KeepAlive(first);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    public void Bf16WeightsAreWidenedAsTheyAreRead(int rows)
    {
        // bfloat16 bits of random values; the oracle widens them by hand (bits << 16) and sums in double.
        var rng = new Random(rows + 40);
        var w = GC.AllocateArray<ushort>(N * K, pinned: true);
        for (int i = 0; i < w.Length; i++) w[i] = (ushort)(BitConverter.SingleToUInt32Bits((rng.NextSingle() * 2) - 1) >> 16);
        var a = GC.AllocateArray<float>(rows * K, pinned: true);
        for (int i = 0; i < a.Length; i++) a[i] = (rng.NextSingle() * 2) - 1;
        var c = GC.AllocateArray<float>(rows * N, pinned: true);
        long before = PackedWeightCache.Packs;
        nint address = (nint)System.Runtime.CompilerServices.Unsafe.AsPointer(ref w[0]);
        long?[] constants = [0, 0, K, 1, 1, 0, 1, K, 2, null, N, K, 1, (long)DType.BF16, 0];
        var fn = GemmKernel.Prepare(new KernelPreparation(constants, s => s == 1 ? address : 0, null, s => s == 1 ? w : null));
        fixed (float* pa = a)
        fixed (ushort* pw = w)
        fixed (float* pc = c)
        {
            fn([(nint)pa, (nint)pw, (nint)pc], [0, 0, K, 1, 1, 0, 1, K, 2, rows, N, K, 1, (long)DType.BF16, 0], 0, 1);
        }

        Assert.Equal(before + (rows > 1 ? 1 : 0), PackedWeightCache.Packs);
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < N; j++)
            {
                double expected = 0;
                for (int p = 0; p < K; p++) expected += (double)a[(i * K) + p] * BitConverter.Int32BitsToSingle(w[(j * K) + p] << 16);
                Assert.Equal(expected, c[(i * N) + j], 1e-4);
            }
        }
    }

    // W[N, K] read as B = Wᵀ (row stride 1, column stride K), as a linear layer's weight is.
    private static float[] Weight(int seed)
    {
        var rng = new Random(seed);
        var w = GC.AllocateArray<float>(N * K, pinned: true);
        for (int i = 0; i < w.Length; i++) w[i] = (rng.NextSingle() * 2) - 1;
        return w;
    }

    private static KernelFn Prepare(float[] w, object owner)
    {
        nint address = (nint)System.Runtime.CompilerServices.Unsafe.AsPointer(ref w[0]);
        // a slot 0, b slot 1 (the weight), c slot 2; M symbolic (null), prepack on, no epilogue.
        long?[] constants = [0, 0, K, 1, 1, 0, 1, K, 2, null, N, K, 1, 0];
        return GemmKernel.Prepare(new KernelPreparation(constants, s => s == 1 ? address : 0, null, s => s == 1 ? owner : null));
    }

    private static void CheckProduct(KernelFn fn, float[] w, int rows) => CheckProduct(fn, w, rows, w);

    // Runs the kernel over the memory of `memory` and checks the product against `w`'s values.
    private static void CheckProduct(KernelFn fn, float[] w, int rows, float[] memory)
    {
        var rng = new Random(rows);
        var a = GC.AllocateArray<float>(rows * K, pinned: true);
        for (int i = 0; i < a.Length; i++) a[i] = (rng.NextSingle() * 2) - 1;
        var c = GC.AllocateArray<float>(rows * N, pinned: true);
        fixed (float* pa = a)
        fixed (float* pw = memory)
        fixed (float* pc = c)
        {
            fn([(nint)pa, (nint)pw, (nint)pc], [0, 0, K, 1, 1, 0, 1, K, 2, rows, N, K, 1, 0], 0, 1);
        }

        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < N; j++)
            {
                double expected = 0;
                for (int p = 0; p < K; p++) expected += (double)a[(i * K) + p] * w[(j * K) + p];
                Assert.Equal(expected, c[(i * N) + j], 1e-4);
            }
        }
    }
}
