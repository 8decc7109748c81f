using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Torch;

/// <summary>
/// Tensor factories and free functions, PyTorch's <c>torch.*</c> namespace: <c>torch.zeros</c> is
/// <see cref="Zeros(long[])"/>, <c>torch.cat</c> is <see cref="Cat"/>. Outside a trace results hold data; inside
/// one, filled tensors stay Full nodes and arrays become Constant nodes.
/// </summary>
public static class Tensors
{
    /// <summary>A float32 tensor copied from <paramref name="data"/> (torch.tensor); no shape means 1-d.</summary>
    public static Tensor Tensor(float[] data, params long[] shape) => Torch.Tensor.FromArray(data, shape);

    /// <summary>An int64 tensor copied from <paramref name="data"/>; no shape means 1-d.</summary>
    public static Tensor Tensor(long[] data, params long[] shape) => Torch.Tensor.FromArray(data, shape);

    /// <summary>A tensor of <paramref name="dtype"/> from double values (rounded to the dtype); no shape means 1-d.</summary>
    public static Tensor Tensor(double[] data, DType dtype, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        int[] dims = shape.Length == 0 ? [data.Length] : [.. shape.Select(d => checked((int)d))];
        return FromHost(HostTensor.FromDoubles(dtype, data, dims));
    }

    /// <summary>A 0-d tensor.</summary>
    public static Tensor Scalar(double value, DType dtype = DType.F32) => Full(Shape.Scalar, value, dtype);

    /// <summary>An eager tensor over <paramref name="data"/> (not copied).</summary>
    public static Tensor FromHost(HostTensor data, Device? device = null) => Torch.Tensor.FromHost(data, device);

    /// <summary>A float32 tensor of zeros.</summary>
    public static Tensor Zeros(params long[] shape) => Full(shape, 0, DType.F32);

    /// <summary>A tensor of zeros.</summary>
    public static Tensor Zeros(long[] shape, DType dtype, Device? device = null) => Full(shape, 0, dtype, device);

    /// <summary>A tensor of zeros of a (possibly symbolic) shape.</summary>
    public static Tensor Zeros(Shape shape, DType dtype = DType.F32, Device? device = null) => Full(shape, 0, dtype, device);

    /// <summary>A float32 tensor of ones.</summary>
    public static Tensor Ones(params long[] shape) => Full(shape, 1, DType.F32);

    /// <summary>A tensor of ones.</summary>
    public static Tensor Ones(long[] shape, DType dtype, Device? device = null) => Full(shape, 1, dtype, device);

    /// <summary>A tensor of ones of a (possibly symbolic) shape.</summary>
    public static Tensor Ones(Shape shape, DType dtype = DType.F32, Device? device = null) => Full(shape, 1, dtype, device);

    /// <summary>A tensor filled with <paramref name="value"/>.</summary>
    public static Tensor Full(long[] shape, double value, DType dtype = DType.F32, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Any(d => d < 0)) throw new ArgumentException($"full: invalid shape [{string.Join(", ", shape)}]", nameof(shape));
        return Full(Shape.Of(shape), value, dtype, device);
    }

    /// <summary>A tensor of a (possibly symbolic) shape filled with <paramref name="value"/>.</summary>
    public static Tensor Full(Shape shape, double value, DType dtype = DType.F32, Device? device = null) =>
        Torch.Tensor.Wrap(IrBuilder.Full(value, dtype, shape), device ?? Device.Cpu);

    /// <summary>Zeros shaped like <paramref name="x"/>.</summary>
    public static Tensor ZerosLike(Tensor x) => FullLike(x, 0);

    /// <summary>Ones shaped like <paramref name="x"/>.</summary>
    public static Tensor OnesLike(Tensor x) => FullLike(x, 1);

    /// <summary>A tensor shaped like <paramref name="x"/> (same dtype and device) filled with <paramref name="value"/>.</summary>
    public static Tensor FullLike(Tensor x, double value)
    {
        ArgumentNullException.ThrowIfNull(x);
        return Full(x.Shape, value, x.DType, x.Device);
    }

    /// <summary>0, 1, ..., end−1 (int64).</summary>
    public static Tensor Arange(long end) => Arange(0, end, 1, DType.I64);

    /// <summary>start, start+step, ... below <paramref name="end"/>; int64 for integral arguments unless <paramref name="dtype"/> says otherwise.</summary>
    public static Tensor Arange(double start, double end, double step = 1, DType? dtype = null, Device? device = null)
    {
        if (step == 0 || double.IsNaN(step)) throw new ArgumentException("arange: step must be nonzero", nameof(step));
        long n = Math.Max(0, (long)Math.Ceiling((end - start) / step));
        bool integral = start == Math.Floor(start) && end == Math.Floor(end) && step == Math.Floor(step);
        var dt = dtype ?? (integral ? DType.I64 : DType.F32);
        return Torch.Tensor.Wrap(IrBuilder.Arange(n, dt, start, step), device ?? Device.Cpu);
    }

    /// <summary>0, 1, ..., length−1 for a (possibly symbolic) length.</summary>
    public static Tensor Arange(Dim length, DType dtype = DType.I64, Device? device = null) =>
        Torch.Tensor.Wrap(IrBuilder.Arange(length, dtype), device ?? Device.Cpu);

    /// <summary><paramref name="steps"/> evenly spaced values from start to end inclusive.</summary>
    public static Tensor Linspace(double start, double end, long steps, DType dtype = DType.F32)
    {
        if (steps < 0) throw new ArgumentOutOfRangeException(nameof(steps), steps, "linspace: steps must be ≥ 0");
        var v = new double[steps];
        for (long i = 0; i < steps; i++) v[i] = steps == 1 ? start : start + ((end - start) * i / (steps - 1));
        return Tensor(v, dtype);
    }

    /// <summary>The n×n identity matrix.</summary>
    public static Tensor Eye(long n, DType dtype = DType.F32)
    {
        var v = new double[n * n];
        for (long i = 0; i < n; i++) v[(i * n) + i] = 1;
        return Tensor(v, dtype, n, n);
    }

    /// <summary>Standard normal samples from <see cref="Random"/> seeded with <paramref name="seed"/> (Box–Muller).</summary>
    public static Tensor Randn(long[] shape, int seed, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var rng = new Random(seed);
        var v = new double[Count(shape)];
        for (int i = 0; i < v.Length; i++) v[i] = Gaussian(rng);
        return Tensor(v, dtype, shape.Length == 0 ? [] : shape).ReshapeScalar(shape);
    }

    /// <summary>Uniform samples in [0, 1) from <see cref="Random"/> seeded with <paramref name="seed"/>.</summary>
    public static Tensor Rand(long[] shape, int seed, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var rng = new Random(seed);
        var v = new double[Count(shape)];
        for (int i = 0; i < v.Length; i++) v[i] = rng.NextDouble();
        return Tensor(v, dtype, shape.Length == 0 ? [] : shape).ReshapeScalar(shape);
    }

    /// <summary>Integers uniform in [low, high) from <see cref="Random"/> seeded with <paramref name="seed"/> (int64).</summary>
    public static Tensor RandInt(long low, long high, long[] shape, int seed)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (high <= low) throw new ArgumentException($"randint: empty range [{low}, {high})", nameof(high));
        var rng = new Random(seed);
        var v = new long[Count(shape)];
        for (int i = 0; i < v.Length; i++) v[i] = rng.NextInt64(low, high);
        return Torch.Tensor.FromArray(v, shape.Length == 0 ? [v.Length] : shape).ReshapeScalar(shape);
    }

    /// <summary>A standard normal sample (Box–Muller).</summary>
    internal static double Gaussian(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>
    /// Seeds the process's default generator (torch.manual_seed): the eager dropouts after it draw streams 0, 1, ... of
    /// <paramref name="seed"/>. Returns <see cref="Generator.Default"/>. Parameter initialization has its own
    /// generator (<see cref="Nn.Init.ManualSeed"/>).
    /// </summary>
    public static Generator ManualSeed(long seed) => Generator.Default.ManualSeed(seed);

    /// <summary>torch.matmul.</summary>
    public static Tensor MatMul(Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        return a.MatMul(b);
    }

    /// <summary>torch.where.</summary>
    public static Tensor Where(Tensor condition, Tensor x, Tensor other) => Torch.Tensor.Where(condition, x, other);

    /// <summary>torch.cat: concatenates along <paramref name="dim"/> with dtype promotion.</summary>
    public static Tensor Cat(IEnumerable<Tensor> tensors, int dim = 0)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        if (list.Count == 0) throw new ArgumentException("cat: needs at least one tensor", nameof(tensors));
        return Torch.Tensor.Wrap(IrBuilder.Concat(list.Select(t => t.Node), dim), Torch.Tensor.DeviceOf("cat", [.. list]));
    }

    /// <summary>torch.stack: joins along a new dim <paramref name="dim"/>.</summary>
    public static Tensor Stack(IEnumerable<Tensor> tensors, int dim = 0)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        if (list.Count == 0) throw new ArgumentException("stack: needs at least one tensor", nameof(tensors));
        return Torch.Tensor.Wrap(IrBuilder.Stack(list.Select(t => t.Node), dim), Torch.Tensor.DeviceOf("stack", [.. list]));
    }

    private static int Count(long[] shape)
    {
        long n = 1;
        foreach (long d in shape)
        {
            if (d < 0) throw new ArgumentException($"invalid shape [{string.Join(", ", shape)}]", nameof(shape));
            n = checked(n * d);
        }

        return checked((int)n);
    }

    private static Tensor ReshapeScalar(this Tensor t, long[] shape) => shape.Length == 0 ? t.Reshape(Shape.Scalar) : t;
}
