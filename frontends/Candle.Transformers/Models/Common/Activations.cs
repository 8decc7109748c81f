using Candle.Torch;

namespace Candle.Transformers.Models.Common;

/// <summary>transformers' <c>ACT2FN</c>: activation functions by their config names.</summary>
public static class Activations
{
    /// <summary>The names <see cref="Get"/> knows.</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["gelu", "gelu_fast", "gelu_new", "gelu_pytorch_tanh", "quick_gelu", "relu", "sigmoid", "silu", "swish", "tanh"];

    /// <summary>The activation called <paramref name="name"/> in a Hugging Face config.</summary>
    /// <exception cref="NotSupportedException">The name is unknown; the message lists the known ones.</exception>
    public static Func<Tensor, Tensor> Get(string name) => name switch
    {
        "silu" or "swish" => F.Silu,
        "gelu" => x => F.Gelu(x),
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => x => F.Gelu(x, "tanh"),
        "quick_gelu" => x => x * F.Sigmoid(x * 1.702),
        "relu" => F.Relu,
        "sigmoid" => F.Sigmoid,
        "tanh" => F.Tanh,
        _ => throw new NotSupportedException($"activation '{name}' is not supported; supported: {string.Join(", ", Names)}"),
    };
}
