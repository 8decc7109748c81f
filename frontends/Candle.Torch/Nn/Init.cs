using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Torch.Nn;

/// <summary>
/// Parameter initialization from a per-thread generator (System.Random): <see cref="ManualSeed"/> makes module
/// construction reproducible, as torch.manual_seed. The generator starts seeded with 0.
/// </summary>
public static class Init
{
    [ThreadStatic]
    private static Random? t_rng;

    private static Random Rng => t_rng ??= new Random(0);

    /// <summary>Reseeds this thread's generator.</summary>
    public static void ManualSeed(int seed) => t_rng = new Random(seed);

    /// <summary>Uniform samples in [low, high).</summary>
    public static HostTensor Uniform(DType dtype, double low, double high, params int[] shape)
    {
        var t = HostTensor.Zeros(dtype, shape);
        for (long i = 0; i < t.ElementCount; i++) t.SetDouble(i, low + ((high - low) * Rng.NextDouble()));
        return t;
    }

    /// <summary>Normal samples with the given mean and standard deviation.</summary>
    public static HostTensor Normal(DType dtype, double mean, double std, params int[] shape)
    {
        var t = HostTensor.Zeros(dtype, shape);
        for (long i = 0; i < t.ElementCount; i++) t.SetDouble(i, mean + (std * Tensors.Gaussian(Rng)));
        return t;
    }

    /// <summary>A tensor filled with <paramref name="value"/>.</summary>
    public static HostTensor Constant(DType dtype, double value, params int[] shape)
    {
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
}
