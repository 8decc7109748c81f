using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Torch;

/// <summary>The functional API, PyTorch's <c>torch.nn.functional</c> (imported as F).</summary>
public static class F
{
    /// <summary>max(x, 0).</summary>
    public static Tensor Relu(Tensor input) => NotNull(input).Relu();

    /// <summary>GELU; <paramref name="approximate"/> is "none" or "tanh".</summary>
    public static Tensor Gelu(Tensor input, string approximate = "none") => NotNull(input).Gelu(approximate);

    /// <summary>x·sigmoid(x).</summary>
    public static Tensor Silu(Tensor input) => NotNull(input).Silu();

    /// <summary>
    /// softplus(x) = ln(1 + e^(β·x))/β, and x where β·x exceeds <paramref name="threshold"/> (torch.nn.functional.softplus).
    /// </summary>
    public static Tensor Softplus(Tensor input, double beta = 1, double threshold = 20)
    {
        var x = NotNull(input).Node;
        if (beta == 1 && threshold == 20) return Tensor.Wrap(IrBuilder.Unary(Op.Softplus, x), input.Device);
        var bx = IrBuilder.Binary(Op.Mul, x, beta);
        var soft = IrBuilder.Binary(Op.Div, IrBuilder.Unary(Op.Softplus, bx), beta);
        return Tensor.Wrap(IrBuilder.Where(IrBuilder.Binary(Op.Gt, bx, threshold), x, soft), input.Device);
    }

    /// <summary>mish(x) = x·tanh(softplus(x)) (torch.nn.functional.mish).</summary>
    public static Tensor Mish(Tensor input) => Tensor.Wrap(IrBuilder.Unary(Op.Mish, NotNull(input).Node), input.Device);

    /// <summary>1/(1+e⁻ˣ).</summary>
    public static Tensor Sigmoid(Tensor input) => NotNull(input).Sigmoid();

    /// <summary>tanh x.</summary>
    public static Tensor Tanh(Tensor input) => NotNull(input).Tanh();

    /// <summary>Softmax along <paramref name="dim"/>.</summary>
    public static Tensor Softmax(Tensor input, int dim) => NotNull(input).Softmax(dim);

    /// <summary>Log-softmax along <paramref name="dim"/>.</summary>
    public static Tensor LogSoftmax(Tensor input, int dim) => NotNull(input).LogSoftmax(dim);

    /// <summary>x·Wᵀ + b with <paramref name="weight"/> of shape [out, in].</summary>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null)
    {
        NotNull(input);
        NotNull(weight);
        return Tensor.Wrap(IrBuilder.Linear(input.Node, weight.Node, bias?.Node), Tensor.DeviceOf("linear", input, weight, bias));
    }

    /// <summary>
    /// x·wᵀ for float32 <paramref name="input"/> [..., in] and a matrix <paramref name="weight"/> [out, in] stored in ggml
    /// blocks (a quantized linear layer); compiled plans multiply the blocks as stored, eager evaluation dequantizes.
    /// </summary>
    /// <exception cref="IrException">The input is not float32 or its last dimension is not the weight's column count.</exception>
    public static Tensor QuantizedLinear(Tensor input, Candle.Runtime.Kernels.Quant.QuantizedTensor weight, Tensor? bias = null)
    {
        NotNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        var y = Tensor.Wrap(IrBuilder.QuantMatMul(input.Node, IrBuilder.QuantConstant(weight)), Tensor.DeviceOf("quantized_linear", input, bias));
        return bias is null ? y : y + bias;
    }

    /// <summary>Rows of a table <paramref name="weight"/> [count, dim] stored in ggml blocks at integer ids <paramref name="input"/>: ids.shape + [dim] in float32.</summary>
    /// <exception cref="IrException">The ids are not integers.</exception>
    public static Tensor QuantizedEmbedding(Tensor input, Candle.Runtime.Kernels.Quant.QuantizedTensor weight)
    {
        NotNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        return Tensor.Wrap(IrBuilder.QuantEmbedding(IrBuilder.QuantConstant(weight), input.Node), input.Device);
    }

    /// <summary>Layer norm over the trailing dims <paramref name="normalizedShape"/>.</summary>
    /// <exception cref="IrException">The trailing dims differ from <paramref name="normalizedShape"/>, or weight/bias are mis-shaped.</exception>
    public static Tensor LayerNorm(Tensor input, long[] normalizedShape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        NotNull(input);
        ArgumentNullException.ThrowIfNull(normalizedShape);
        CheckTrailing("layer_norm", Op.LayerNorm, input, normalizedShape);
        return Tensor.Wrap(
            IrBuilder.LayerNorm(input.Node, weight?.Node, bias?.Node, eps, normalizedShape.Length),
            Tensor.DeviceOf("layer_norm", input, weight, bias));
    }

    /// <summary>
    /// RMS norm over the trailing dims <paramref name="normalizedShape"/>: x / √(mean(x²) + eps) · weight.
    /// A null <paramref name="eps"/> means the dtype's machine epsilon, as PyTorch.
    /// </summary>
    public static Tensor RmsNorm(Tensor input, long[] normalizedShape, Tensor? weight = null, double? eps = null)
    {
        NotNull(input);
        ArgumentNullException.ThrowIfNull(normalizedShape);
        CheckTrailing("rms_norm", Op.RmsNorm, input, normalizedShape);
        double e = eps ?? MachineEpsilon(input.DType);
        var device = Tensor.DeviceOf("rms_norm", input, weight);
        if (normalizedShape.Length == 1) return Tensor.Wrap(IrBuilder.RmsNorm(input.Node, weight?.Node, e), device);
        var flat = input.Flatten(input.Rank - normalizedShape.Length);
        var w = weight?.Flatten();
        return Tensor.Wrap(IrBuilder.RmsNorm(flat.Node, w?.Node, e), device).Reshape(input.Shape);
    }

    /// <summary>RMS norm over the last dim (the form Llama-family models use).</summary>
    public static Tensor RmsNorm(Tensor input, Tensor? weight, double eps)
    {
        NotNull(input);
        return Tensor.Wrap(IrBuilder.RmsNorm(input.Node, weight?.Node, eps), Tensor.DeviceOf("rms_norm", input, weight));
    }

    /// <summary>Group norm of [N, C, ...] with <paramref name="numGroups"/> groups.</summary>
    public static Tensor GroupNorm(Tensor input, int numGroups, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        NotNull(input);
        return Tensor.Wrap(IrBuilder.GroupNorm(input.Node, numGroups, weight?.Node, bias?.Node, eps), Tensor.DeviceOf("group_norm", input, weight, bias));
    }

    /// <summary>Rows of <paramref name="weight"/> [num, dim] chosen by the int64/int32 <paramref name="input"/>: shape input.shape + [dim].</summary>
    public static Tensor Embedding(Tensor input, Tensor weight)
    {
        NotNull(input);
        NotNull(weight);
        return weight.IndexSelect(0, input);
    }

    /// <summary>1-d convolution of [N, C, L] (or unbatched [C, L]) with weight [out, C/groups, k].</summary>
    public static Tensor Conv1d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1, int groups = 1) =>
        ConvNd(input, weight, bias, [stride], [padding], [dilation], groups);

    /// <summary>2-d convolution of [N, C, H, W] (or unbatched [C, H, W]) with weight [out, C/groups, kh, kw].</summary>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1, int groups = 1) =>
        ConvNd(input, weight, bias, [stride, stride], [padding, padding], [dilation, dilation], groups);

    /// <summary>2-d convolution with per-axis (height, width) parameters.</summary>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias, (int H, int W) stride, (int H, int W) padding, (int H, int W) dilation, int groups = 1) =>
        ConvNd(input, weight, bias, [stride.H, stride.W], [padding.H, padding.W], [dilation.H, dilation.W], groups);

    /// <summary>1-d transposed convolution of [N, C_in, L] with weight [C_in, C_out/groups, k].</summary>
    public static Tensor ConvTranspose1d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int outputPadding = 0, int groups = 1, int dilation = 1) =>
        ConvTransposeNd(input, weight, bias, [stride], [padding], [outputPadding], [dilation], groups);

    /// <summary>2-d transposed convolution of [N, C_in, H, W] with weight [C_in, C_out/groups, kh, kw].</summary>
    public static Tensor ConvTranspose2d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int outputPadding = 0, int groups = 1, int dilation = 1) =>
        ConvTransposeNd(input, weight, bias, [stride, stride], [padding, padding], [outputPadding, outputPadding], [dilation, dilation], groups);

    /// <summary>N-d convolution with one parameter per spatial dim; an unbatched input (rank = spatial + 1) is accepted.</summary>
    public static Tensor ConvNd(Tensor input, Tensor weight, Tensor? bias, int[] stride, int[] padding, int[] dilation, int groups = 1)
    {
        NotNull(input);
        NotNull(weight);
        ArgumentNullException.ThrowIfNull(stride);
        var device = Tensor.DeviceOf("conv", input, weight, bias);
        return Batched(input, stride.Length, x => Tensor.Wrap(IrBuilder.Conv(x.Node, weight.Node, bias?.Node, stride, padding, dilation, groups), device));
    }

    /// <summary>N-d transposed convolution with one parameter per spatial dim.</summary>
    public static Tensor ConvTransposeNd(Tensor input, Tensor weight, Tensor? bias, int[] stride, int[] padding, int[] outputPadding, int[] dilation, int groups = 1)
    {
        NotNull(input);
        NotNull(weight);
        ArgumentNullException.ThrowIfNull(stride);
        var device = Tensor.DeviceOf("conv_transpose", input, weight, bias);
        return Batched(input, stride.Length, x => Tensor.Wrap(IrBuilder.ConvTranspose(x.Node, weight.Node, bias?.Node, stride, padding, outputPadding, dilation, groups), device));
    }

    /// <summary>1-d max pooling; stride defaults to the kernel size.</summary>
    public static Tensor MaxPool1d(Tensor input, int kernelSize, int? stride = null, int padding = 0) =>
        Pool(Op.MaxPool, input, [kernelSize], [stride ?? kernelSize], [padding], true);

    /// <summary>2-d max pooling; stride defaults to the kernel size.</summary>
    public static Tensor MaxPool2d(Tensor input, int kernelSize, int? stride = null, int padding = 0) =>
        Pool(Op.MaxPool, input, [kernelSize, kernelSize], [stride ?? kernelSize, stride ?? kernelSize], [padding, padding], true);

    /// <summary>1-d average pooling; stride defaults to the kernel size; padding counts in the average by default.</summary>
    public static Tensor AvgPool1d(Tensor input, int kernelSize, int? stride = null, int padding = 0, bool countIncludePad = true) =>
        Pool(Op.AvgPool, input, [kernelSize], [stride ?? kernelSize], [padding], countIncludePad);

    /// <summary>2-d average pooling; stride defaults to the kernel size.</summary>
    public static Tensor AvgPool2d(Tensor input, int kernelSize, int? stride = null, int padding = 0, bool countIncludePad = true) =>
        Pool(Op.AvgPool, input, [kernelSize, kernelSize], [stride ?? kernelSize, stride ?? kernelSize], [padding, padding], countIncludePad);

    /// <summary>Nearest-neighbour upsampling of every spatial dim of [N, C, ...] by the integer <paramref name="scaleFactor"/>.</summary>
    /// <exception cref="NotSupportedException">A mode other than "nearest".</exception>
    public static Tensor Interpolate(Tensor input, int scaleFactor, string mode = "nearest")
    {
        NotNull(input);
        return Interpolate(input, [.. Enumerable.Repeat(scaleFactor, Math.Max(input.Rank - 2, 0))], mode);
    }

    /// <summary>Nearest-neighbour upsampling with one integer factor per spatial dim.</summary>
    public static Tensor Interpolate(Tensor input, int[] scaleFactor, string mode = "nearest")
    {
        NotNull(input);
        ArgumentNullException.ThrowIfNull(scaleFactor);
        if (mode != "nearest") throw new NotSupportedException($"interpolate: mode '{mode}' is not supported (only 'nearest' with integer scale factors)");
        if (scaleFactor.Any(s => s < 1)) throw IrException.For(Op.UpsampleNearest, [input.Node], $"interpolate: scale factors [{string.Join(", ", scaleFactor)}] must be ≥ 1");
        return Tensor.Wrap(IrBuilder.UpsampleNearest(input.Node, scaleFactor), input.Device);
    }

    /// <summary>Constant padding; <paramref name="pad"/> lists (before, after) pairs starting from the last dim.</summary>
    /// <exception cref="NotSupportedException">A mode other than "constant".</exception>
    public static Tensor Pad(Tensor input, int[] pad, string mode = "constant", double value = 0)
    {
        NotNull(input);
        ArgumentNullException.ThrowIfNull(pad);
        if (mode != "constant") throw new NotSupportedException($"pad: mode '{mode}' is not supported (only 'constant')");
        return Tensor.Wrap(IrBuilder.Pad(input.Node, pad, value), input.Device);
    }

    /// <summary>
    /// Dropout (torch.nn.functional.dropout): the identity unless <paramref name="training"/>; in training each element is
    /// kept and scaled by 1/(1 − p) where its uniform draw u in [0, 1) has u ≥ p (p rounded to float32), and zeroed
    /// otherwise. p = 0 is the identity and p = 1 gives zeros. The draws are <see cref="Op.RandomUniform"/>: eagerly
    /// the next stream of <paramref name="generator"/> (the default generator when null); in a trace the next stream
    /// (0, 1, ... in the order of the calls) of the trace's seed input <see cref="Tracer.SeedInputName"/>, so a trace
    /// run with seed s computes what the same code computes eagerly right after <c>ManualSeed(s)</c>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is outside [0, 1].</exception>
    /// <exception cref="ArgumentException">In training, the input is not floating-point.</exception>
    /// <exception cref="InvalidOperationException">A generator is given inside a trace (a trace draws from its seed input).</exception>
    public static Tensor Dropout(Tensor input, double p = 0.5, bool training = false, Generator? generator = null)
    {
        NotNull(input);
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout: p must be in [0, 1]");
        if (!training || p == 0) return input;
        if (!input.IsFloatingPoint) throw new ArgumentException($"dropout: the input must be floating-point, got {input.TypeString}", nameof(input));
        if (p == 1) return Tensor.Wrap(IrBuilder.Full(0, input.DType, input.Shape), input.Device);
        Node seed;
        long stream;
        if (Tracer.IsTracing)
        {
            if (generator is not null)
            {
                throw new InvalidOperationException($"dropout: a traced dropout draws from the graph input '{Tracer.SeedInputName}', not from a generator");
            }

            (seed, stream) = Tracer.NextDraw();
        }
        else
        {
            long s;
            (s, stream) = (generator ?? Generator.Default).Next();
            var t = Runtime.Tensors.HostTensor.Zeros(DType.I64);
            t.SetInt64(0, s);
            seed = IrBuilder.Constant(t);
        }

        var x = input.Node;
        var keep = IrBuilder.Binary(Op.Ge, IrBuilder.RandomUniform(seed, x.Shape, stream), IrBuilder.Scalar((float)p, DType.F32));
        var kept = IrBuilder.Binary(Op.Mul, x, 1 / (1 - p));
        return Tensor.Wrap(IrBuilder.Where(keep, kept, IrBuilder.Scalar(0, x.DType)), input.Device);
    }

    /// <summary>
    /// Scaled dot-product attention of q [..., H, Sq, D], k and v [..., Hkv, Sk, D]. <paramref name="attnMask"/> is bool
    /// (true keeps) or float (added), broadcastable to [..., H, Sq, Sk]; causal is bottom-right aligned; scale defaults to 1/√D.
    /// Fewer key/value heads than query heads need <paramref name="enableGqa"/>, as in PyTorch.
    /// </summary>
    public static Tensor ScaledDotProductAttention(
        Tensor query, Tensor key, Tensor value, Tensor? attnMask = null, double dropoutP = 0, bool isCausal = false, double? scale = null, bool enableGqa = false)
    {
        NotNull(query);
        NotNull(key);
        NotNull(value);
        if (dropoutP != 0) throw new NotSupportedException("scaled_dot_product_attention: dropout is not supported (inference only)");
        if (query.Rank < 3 || query.Rank > 4 || key.Rank != query.Rank || value.Rank != query.Rank)
        {
            throw IrException.For(Op.Attention, [query.Node, key.Node, value.Node], "scaled_dot_product_attention: expects q, k, v of rank 3 or 4");
        }

        if (!enableGqa && query.Shape[^3] != key.Shape[^3])
        {
            throw IrException.For(Op.Attention, [query.Node, key.Node, value.Node], $"scaled_dot_product_attention: query has {query.Shape[^3]} heads but key has {key.Shape[^3]} (pass enableGqa: true)");
        }

        var device = Tensor.DeviceOf("scaled_dot_product_attention", query, key, value, attnMask);
        bool unbatched = query.Rank == 3;
        var (q, k, v) = unbatched ? (query.Unsqueeze(0), key.Unsqueeze(0), value.Unsqueeze(0)) : (query, key, value);
        var r = Tensor.Wrap(IrBuilder.Attention(q.Node, k.Node, v.Node, attnMask?.Node, isCausal, scale), device);
        return unbatched ? r.Squeeze(0) : r;
    }

    /// <summary>torch.cat.</summary>
    public static Tensor Cat(IEnumerable<Tensor> tensors, int dim = 0) => Tensors.Cat(tensors, dim);

    /// <summary>torch.stack.</summary>
    public static Tensor Stack(IEnumerable<Tensor> tensors, int dim = 0) => Tensors.Stack(tensors, dim);

    /// <summary>
    /// Rotary position embedding of x [..., D] with cos and sin broadcastable to [..., D/2]: pairs (i, i + D/2) as
    /// transformers' rotate_half, or interleaved pairs (2i, 2i+1) as the original RoPE and GGUF Llama.
    /// </summary>
    public static Tensor Rope(Tensor x, Tensor cos, Tensor sin, bool interleaved = false)
    {
        NotNull(x);
        NotNull(cos);
        NotNull(sin);
        return Tensor.Wrap(IrBuilder.Rope(x.Node, cos.Node, sin.Node, interleaved), Tensor.DeviceOf("rope", x, cos, sin));
    }

    /// <summary>The spacing of float values near 1 of <paramref name="dtype"/> (torch.finfo(dtype).eps).</summary>
    public static double MachineEpsilon(DType dtype) => dtype switch
    {
        DType.F16 => 0.0009765625,
        DType.BF16 => 0.0078125,
        DType.F64 => 2.220446049250313e-16,
        _ => 1.1920928955078125e-07,
    };

    private static Tensor Pool(Op op, Tensor input, int[] kernel, int[] stride, int[] padding, bool countIncludePad)
    {
        NotNull(input);
        return Batched(input, kernel.Length, x => Tensor.Wrap(IrBuilder.Pool(op, x.Node, kernel, stride, padding, countIncludePad), input.Device));
    }

    private static Tensor Batched(Tensor input, int spatial, Func<Tensor, Tensor> f) =>
        input.Rank == spatial + 1 ? f(input.Unsqueeze(0)).Squeeze(0) : f(input);

    private static void CheckTrailing(string name, Op op, Tensor input, long[] normalizedShape)
    {
        int k = normalizedShape.Length;
        if (k < 1 || k > input.Rank || !input.Shape.Skip(input.Rank - k).SequenceEqual(normalizedShape.Select(Dim.Of)))
        {
            throw IrException.For(op, [input.Node], $"{name}: normalized shape [{string.Join(", ", normalizedShape)}] does not match the trailing dims of {input.Shape}");
        }
    }

    private static Tensor NotNull(Tensor input, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(input))] string? name = null)
    {
        ArgumentNullException.ThrowIfNull(input, name);
        return input;
    }
}
