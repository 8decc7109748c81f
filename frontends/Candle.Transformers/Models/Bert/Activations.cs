using Candle.Torch;

namespace Candle.Transformers.Models.Bert;

/// <summary>transformers' <c>ACT2FN</c> activations by name, for the encoder architectures.</summary>
public static class Activations
{
    /// <summary>The activation names that <see cref="Apply"/> knows.</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "quick_gelu", "relu", "silu", "swish", "tanh", "sigmoid", "linear"];

    /// <summary>Applies the activation named <paramref name="name"/>.</summary>
    /// <exception cref="NotSupportedException">The name is unknown; the message lists the known ones.</exception>
    public static Tensor Apply(string name, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        return name switch
        {
            "gelu" => x.Gelu(),
            "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => x.Gelu("tanh"),
            "quick_gelu" => x * (x * 1.702).Sigmoid(),
            "relu" => x.Relu(),
            "silu" or "swish" => x.Silu(),
            "tanh" => x.Tanh(),
            "sigmoid" => x.Sigmoid(),
            "linear" => x,
            _ => throw Unknown(name, "activation"),
        };
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
