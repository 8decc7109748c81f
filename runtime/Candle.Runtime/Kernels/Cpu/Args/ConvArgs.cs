using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:conv</c> and <c>rt:conv_transpose</c> (<see cref="ConvKernels"/>, NC* layout):
/// <c>x, w, bias (−1 none), y, dtype, spatialRank, batch, inChannels, outChannels, groups, inSpatial[sp],
/// kernel[sp], outSpatial[sp], stride[sp], padding[sp], dilation[sp]</c>, and for <c>rt:conv_gemm</c> optionally an
/// epilogue <c>residual (−1 none), relu (0 or 1)</c>: y = relu(conv + bias + residual), the residual dense in y's
/// layout, applied to each finished tile (absent in older plans: none). The weight is [outChannels,
/// inChannels/groups, kernel…] for a convolution and [inChannels, outChannels/groups, kernel…] for a transposed one.
/// Work items are (n, output channel) pairs. <typeparamref name="T"/> is the compiler's symbolic size when a plan is
/// built and <see cref="long"/> when it runs.
/// </summary>
internal readonly record struct ConvArgs<T>(
    T X, T W, T Bias, T Y, T DType, T Batch, T InChannels, T OutChannels, T Groups,
    ReadOnlyMemory<T> InSpatial, ReadOnlyMemory<T> Kernel, ReadOnlyMemory<T> OutSpatial,
    ReadOnlyMemory<T> Stride, ReadOnlyMemory<T> Padding, ReadOnlyMemory<T> Dilation)
{
    /// <summary>The positional encoding of a plan step; <paramref name="rank"/> converts the spatial rank.</summary>
    public T[] Encode(Func<int, T> rank) =>
    [
        X, W, Bias, Y, DType, rank(InSpatial.Length), Batch, InChannels, OutChannels, Groups,
        .. InSpatial.Span, .. Kernel.Span, .. OutSpatial.Span, .. Stride.Span, .. Padding.Span, .. Dilation.Span,
    ];

    /// <summary>
    /// The encoding with <c>rt:conv_gemm</c>'s epilogue fields after it: the residual's slot (−1 none) and the ReLU
    /// flag.
    /// </summary>
    public T[] Encode(Func<int, T> rank, T residual, T relu) => [.. Encode(rank), residual, relu];
}

/// <summary>Kernel names, decoding and accesses of <see cref="ConvArgs{T}"/>.</summary>
internal static class ConvArgs
{
    /// <summary>The convolution's name in a plan step.</summary>
    public const string Kernel = "rt:conv";

    /// <summary>The float32 convolution as unfolded windows times the weight, one work item (<see cref="ConvGemmKernel"/>).</summary>
    public const string GemmKernel = "rt:conv_gemm";

    /// <summary>The transposed convolution's name in a plan step.</summary>
    public const string TransposeKernel = "rt:conv_transpose";

    /// <summary>Fields before the spatial shapes.</summary>
    private const int ShapeAt = 10;

    /// <summary>Reads the arguments without checks (the kernel's hot path; the plan checked them at binding).</summary>
    public static ConvArgs<long> Read(long[] a)
    {
        int sp = (int)a[5];
        return new(
            a[0], a[1], a[2], a[3], a[4], a[6], a[7], a[8], a[9],
            a.AsMemory(ShapeAt, sp), a.AsMemory(ShapeAt + sp, sp), a.AsMemory(ShapeAt + (2 * sp), sp),
            a.AsMemory(ShapeAt + (3 * sp), sp), a.AsMemory(ShapeAt + (4 * sp), sp), a.AsMemory(ShapeAt + (5 * sp), sp));
    }

    /// <summary>The epilogue fields without checks: the residual's slot (−1 none) and the ReLU flag; none in a step without them.</summary>
    public static (long Residual, bool Relu) ReadEpilogue(long[] a)
    {
        int end = ShapeAt + (6 * (int)a[5]);
        return a.Length >= end + 2 ? (a[end], a[end + 1] != 0) : (-1, false);
    }

    /// <summary>Reads and checks the arguments; <paramref name="epilogue"/>: whether the kernel takes the epilogue fields.</summary>
    public static ConvArgs<long> Decode(long[] a, bool epilogue = false)
    {
        if (a.Length < ShapeAt) throw new PlanFormatException($"{a.Length} arguments, at least {ShapeAt} expected");
        int sp = ArgCheck.Rank(a[5], "spatial rank");
        ArgCheck.Count(a, ShapeAt + (6 * sp), ShapeAt + (6 * sp) + (epilogue ? 2 : 0));
        if (a.Length == ShapeAt + (6 * sp) + 1) throw new PlanFormatException("the epilogue needs a residual slot and a relu flag");
        var p = Read(a);
        if (a.Length > ShapeAt + (6 * sp))
        {
            ArgCheck.Slot(a[^2], "residual", optional: true);
            ArgCheck.Flag(a[^1], "relu flag");
        }

        ArgCheck.Slot(p.X, "x");
        ArgCheck.Slot(p.W, "weight");
        ArgCheck.Slot(p.Bias, "bias", optional: true);
        ArgCheck.Slot(p.Y, "y");
        ArgCheck.DType(p.DType, "dtype");
        ArgCheck.Size(p.Batch, "batch");
        ArgCheck.Size(p.InChannels, "input channels");
        ArgCheck.Size(p.OutChannels, "output channels");
        if (p.Groups < 1 || p.InChannels % p.Groups != 0 || p.OutChannels % p.Groups != 0)
        {
            throw new PlanFormatException($"groups {p.Groups} do not divide {p.InChannels} input and {p.OutChannels} output channels");
        }

        ArgCheck.Sizes(p.InSpatial.Span, "input spatial size");
        ArgCheck.Sizes(p.Kernel.Span, "kernel size");
        ArgCheck.Sizes(p.OutSpatial.Span, "output spatial size");
        ArgCheck.Window(p.Stride.Span, 1, "stride");
        ArgCheck.Window(p.Padding.Span, 0, "padding");
        ArgCheck.Window(p.Dilation.Span, 1, "dilation");
        return p;
    }

    /// <summary>
    /// The bytes the step reads and writes over <paramref name="work"/> (n, output channel) items, or one item for the
    /// whole convolution (<paramref name="single"/>); every position the kernel computes is checked against its spatial
    /// size before it is read, so the dense extents bound it.
    /// </summary>
    /// <param name="p">The decoded arguments.</param>
    /// <param name="work">The step's work items.</param>
    /// <param name="transposed">Whether the convolution is transposed.</param>
    /// <param name="single">Whether the whole convolution is one item (<c>rt:conv_gemm</c>).</param>
    /// <param name="residual">The epilogue's residual slot (−1 none), read densely in y's layout.</param>
    public static IEnumerable<StepExtent> Accesses(ConvArgs<long> p, long work, bool transposed, bool single = false, long residual = -1)
    {
        long items = StepExtent.Mul(p.Batch, p.OutChannels);
        if (single)
        {
            if (work != 1) throw new PlanFormatException($"the step covers {work} items; the whole convolution is one");
            if (p.DType != (long)Runtime.DType.F32) throw new PlanFormatException($"{GemmKernel} computes float32, got dtype {p.DType}");
            work = items;
        }

        if (work != items) throw new PlanFormatException($"the step covers {work} items but batch · output channels is {items}");
        long es = ArgCheck.DType(p.DType, "dtype");
        long inSize = ArgCheck.Product(p.InSpatial.Span), kSize = ArgCheck.Product(p.Kernel.Span), outSize = ArgCheck.Product(p.OutSpatial.Span);
        long weight = transposed
            ? StepExtent.Mul(StepExtent.Mul(p.InChannels, p.OutChannels / p.Groups), kSize)
            : StepExtent.Mul(StepExtent.Mul(p.OutChannels, p.InChannels / p.Groups), kSize);
        if (work == 0) yield break;
        yield return StepExtent.Dense(p.X, es, 0, StepExtent.Mul(StepExtent.Mul(p.Batch, p.InChannels), inSize), writes: false);
        yield return StepExtent.Dense(p.W, es, 0, weight, writes: false);
        if (p.Bias >= 0) yield return StepExtent.Dense(p.Bias, es, 0, p.OutChannels, writes: false);
        if (residual >= 0) yield return StepExtent.Dense(residual, es, 0, StepExtent.Mul(items, outSize), writes: false);
        yield return StepExtent.Dense(p.Y, es, 0, StepExtent.Mul(items, outSize), writes: true);
    }
}
