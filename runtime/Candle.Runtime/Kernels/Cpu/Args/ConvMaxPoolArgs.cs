using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:conv_gemm_max_pool</c> (<see cref="ConvGemmKernel.RunMaxPool"/>): a float32 2-d convolution,
/// an optional ReLU, then a max pool of its result, written only pooled: the convolution's fields as
/// <see cref="ConvArgs{T}"/> encodes them (<c>x, w, bias, y, dtype, 2, batch, inChannels, outChannels, groups,
/// inSpatial[2], kernel[2], convSpatial[2], stride[2], padding[2], dilation[2]</c>, y being the pooled output), then
/// <c>relu (0 or 1), poolKernel[2], poolStride[2], poolPadding[2], pooledSpatial[2]</c>. One work item (the kernel
/// splits its work over the pool). <typeparamref name="T"/> is the compiler's symbolic size when a plan is built and
/// <see cref="long"/> when it runs.
/// </summary>
internal readonly record struct ConvMaxPoolArgs<T>(
    ConvArgs<T> Conv, T Relu, ReadOnlyMemory<T> PoolKernel, ReadOnlyMemory<T> PoolStride, ReadOnlyMemory<T> PoolPadding, ReadOnlyMemory<T> Pooled)
{
    /// <summary>The positional encoding of a plan step; <paramref name="rank"/> converts the spatial rank.</summary>
    public T[] Encode(Func<int, T> rank) =>
        [.. Conv.Encode(rank), Relu, .. PoolKernel.Span, .. PoolStride.Span, .. PoolPadding.Span, .. Pooled.Span];
}

/// <summary>Kernel name, decoding and accesses of <see cref="ConvMaxPoolArgs{T}"/>.</summary>
internal static class ConvMaxPoolArgs
{
    /// <summary>The kernel's name in a plan step.</summary>
    public const string Kernel = "rt:conv_gemm_max_pool";

    /// <summary>The spatial rank the kernel takes.</summary>
    private const int Spatial = 2;

    /// <summary>Fields of the convolution (<see cref="ConvArgs{T}"/>'s encoding at two spatial dims).</summary>
    private const int ConvFields = 10 + (6 * Spatial);

    /// <summary>All fields.</summary>
    private const int Fields = ConvFields + 1 + (4 * Spatial);

    /// <summary>Reads the arguments without checks (the kernel's hot path; the plan checked them at binding).</summary>
    public static ConvMaxPoolArgs<long> Read(long[] a) =>
        new(
            ConvArgs.Read(a), a[ConvFields],
            a.AsMemory(ConvFields + 1, Spatial), a.AsMemory(ConvFields + 1 + Spatial, Spatial),
            a.AsMemory(ConvFields + 1 + (2 * Spatial), Spatial), a.AsMemory(ConvFields + 1 + (3 * Spatial), Spatial));

    /// <summary>Reads and checks the arguments.</summary>
    public static ConvMaxPoolArgs<long> Decode(long[] a)
    {
        if (a.Length < 10) throw new PlanFormatException($"{a.Length} arguments, at least 10 expected");
        if (a[5] != Spatial) throw new PlanFormatException($"spatial rank {a[5]}: {Kernel} takes {Spatial}");
        ArgCheck.Count(a, Fields, Fields);
        ConvArgs.Decode(a[..ConvFields]);
        var p = Read(a);
        if (p.Conv.DType != (long)Runtime.DType.F32) throw new PlanFormatException($"{Kernel} computes float32, got dtype {p.Conv.DType}");
        ArgCheck.Flag(p.Relu, "relu flag");
        ArgCheck.Window(p.PoolKernel.Span, 1, "pool kernel size");
        ArgCheck.Window(p.PoolStride.Span, 1, "pool stride");
        ArgCheck.Window(p.PoolPadding.Span, 0, "pool padding");
        ArgCheck.Sizes(p.Pooled.Span, "pooled spatial size");
        return p;
    }

    /// <summary>
    /// The bytes the step reads and writes (one work item): the convolution's input, weight and bias, and the pooled
    /// output. The convolution's own result lives only in the kernel's buffers; every position a window or a pool
    /// window reaches is checked against its spatial size before it is read.
    /// </summary>
    public static IEnumerable<StepExtent> Accesses(ConvMaxPoolArgs<long> p, long work)
    {
        if (work != 1) throw new PlanFormatException($"the step covers {work} items; the whole convolution is one");
        var c = p.Conv;
        long items = StepExtent.Mul(c.Batch, c.OutChannels);
        long inSize = ArgCheck.Product(c.InSpatial.Span), kSize = ArgCheck.Product(c.Kernel.Span);
        ArgCheck.Product(c.OutSpatial.Span);
        long pooled = ArgCheck.Product(p.Pooled.Span);
        for (int d = 0; d < Spatial; d++) StepExtent.Mul(p.Pooled.Span[d], p.PoolStride.Span[d]);
        long weight = StepExtent.Mul(StepExtent.Mul(c.OutChannels, c.InChannels / c.Groups), kSize);
        yield return StepExtent.Dense(c.X, 4, 0, StepExtent.Mul(StepExtent.Mul(c.Batch, c.InChannels), inSize), writes: false);
        yield return StepExtent.Dense(c.W, 4, 0, weight, writes: false);
        if (c.Bias >= 0) yield return StepExtent.Dense(c.Bias, 4, 0, c.OutChannels, writes: false);
        yield return StepExtent.Dense(c.Y, 4, 0, StepExtent.Mul(items, pooled), writes: true);
    }
}
