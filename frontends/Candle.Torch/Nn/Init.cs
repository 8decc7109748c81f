using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Torch.Nn;

/// <summary>
/// Parameter initialization from a per-thread generator (System.Random): <see cref="ManualSeed"/> makes module
/// construction reproducible, as torch.manual_seed. The generator starts seeded with 0. Under <see cref="SkipInit"/>
/// (the no-init construction path for modules whose parameters come from a checkpoint) nothing is drawn or written.
/// </summary>
public static class Init
{
    [ThreadStatic]
    private static Random? t_rng;

    [ThreadStatic]
    private static int t_skip;

    private static Random Rng => t_rng ??= new Random(0);

    /// <summary>Reseeds this thread's generator.</summary>
    public static void ManualSeed(int seed) => t_rng = new Random(seed);

    /// <summary>Whether <see cref="SkipInit"/> is in effect on this thread.</summary>
    public static bool IsSkipping => t_skip > 0;

    /// <summary>
    /// Until the returned scope is disposed, this thread's initializers return tensors of the requested dtype and
    /// shape whose (zeroed) memory is allocated only when first read, and draw nothing from the generator: for
    /// building modules whose parameters a checkpoint replaces right away (torch's <c>skip_init</c>), so that
    /// loading neither initializes randomly nor holds a second copy of every weight. Scopes nest.
    /// </summary>
    /// <returns>The scope; dispose it to end skipping.</returns>
    public static IDisposable SkipInit()
    {
        t_skip++;
        return new SkipInitScope();
    }

    internal static void LeaveSkipInit() => t_skip--;

    /// <summary>Uniform samples in [low, high).</summary>
    public static HostTensor Uniform(DType dtype, double low, double high, params int[] shape)
    {
        if (IsSkipping) return Deferred(dtype, shape);
        var t = HostTensor.Zeros(dtype, shape);
        for (long i = 0; i < t.ElementCount; i++) t.SetDouble(i, low + ((high - low) * Rng.NextDouble()));
        return t;
    }

    /// <summary>Normal samples with the given mean and standard deviation.</summary>
    public static HostTensor Normal(DType dtype, double mean, double std, params int[] shape)
    {
        if (IsSkipping) return Deferred(dtype, shape);
        var t = HostTensor.Zeros(dtype, shape);
        for (long i = 0; i < t.ElementCount; i++) t.SetDouble(i, mean + (std * Tensors.Gaussian(Rng)));
        return t;
    }

    /// <summary>A tensor filled with <paramref name="value"/>.</summary>
    public static HostTensor Constant(DType dtype, double value, params int[] shape)
    {
        if (IsSkipping) return Deferred(dtype, shape);
        var t = HostTensor.Zeros(dtype, shape);
        for (long i = 0; i < t.ElementCount; i++) t.SetDouble(i, value);
        return t;
    }

    /// <summary>PyTorch's default for linear and conv weights and biases: U(−1/√fanIn, 1/√fanIn).</summary>
    public static HostTensor FanInUniform(DType dtype, long fanIn, params int[] shape)
    {
        double bound = fanIn > 0 ? 1.0 / Math.Sqrt(fanIn) : 0;
        return Uniform(dtype, -bound, bound, shape);
    }

    // A tensor whose zeroed memory is allocated on first use.
    private static HostTensor Deferred(DType dtype, int[] shape)
    {
        long count = 1;
        foreach (int d in shape) count = checked(count * Math.Max(0, d));
        int bytes = checked((int)(count * dtype.SizeInBytes()));
        return new HostTensor(dtype, shape, new DeferredZeros(bytes).Memory);
    }
}
