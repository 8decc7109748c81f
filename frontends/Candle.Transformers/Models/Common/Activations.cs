using Candle.Torch;

namespace Candle.Transformers.Models.Common;

/// <summary>transformers' <c>ACT2FN</c>: activation functions by their config names, for every architecture.</summary>
public static class Activations
{
    /// <summary>The names <see cref="Get"/> knows.</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["gelu", "gelu_fast", "gelu_new", "gelu_pytorch_tanh", "linear", "quick_gelu", "relu", "sigmoid", "silu", "swish", "tanh"];

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
        "linear" => x => x,
        _ => throw Unknown(name, "activation"),
    };

    /// <summary>Applies the activation named <paramref name="name"/>.</summary>
    /// <exception cref="NotSupportedException">The name is unknown; the message lists the known ones.</exception>
    public static Tensor Apply(string name, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        return Get(name)(x);
    }

    /// <summary>Checks that <paramref name="name"/> is known.</summary>
    /// <exception cref="NotSupportedException">The name is unknown; the message names the config and key.</exception>
    public static void Check(string name, string source, string key)
    {
        if (!Names.Contains(name)) throw Unknown(name, $"{source}: '{key}'");
    }

    private static NotSupportedException Unknown(string name, string what) =>
        new($"{what} '{name}' is not supported; supported: {string.Join(", ", Names)}");
}
