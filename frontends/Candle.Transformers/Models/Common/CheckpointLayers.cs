using System.Globalization;

namespace Candle.Transformers.Models.Common;

/// <summary>
/// Checks a config's layer count against the layers a checkpoint holds before any layer is built: a config that
/// declares more layers than the checkpoint has fails naming the first missing tensor, and one that declares fewer
/// (the rest of the checkpoint would be silently dropped) fails unless unused tensors are allowed. Only
/// min(declared, present) + 1 names are probed, so a hostile count costs nothing.
/// </summary>
public static class CheckpointLayers
{
    /// <summary>Checks <paramref name="declared"/> layers against the checkpoint.</summary>
    /// <param name="source">The config file, for messages.</param>
    /// <param name="key">The config key that declared the count (<c>num_hidden_layers</c>, <c>decoder_layers</c>, ...).</param>
    /// <param name="declared">The declared count.</param>
    /// <param name="probe">The name of one tensor every layer has, for a layer index.</param>
    /// <param name="contains">Whether the checkpoint has a tensor of that name.</param>
    /// <param name="allowUnused">Accept a checkpoint with more layers than declared.</param>
    /// <exception cref="InvalidDataException">The counts disagree; the message names the file, the key and a tensor.</exception>
    public static void Check(string source, string key, int declared, Func<int, string> probe, Func<string, bool> contains, bool allowUnused)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(contains);
        var inv = CultureInfo.InvariantCulture;
        for (int i = 0; i < declared; i++)
        {
            if (!contains(probe(i)))
            {
                throw new InvalidDataException(string.Create(inv,
                    $"{source}: '{key}' is {declared} but the checkpoint has {i} layer{(i == 1 ? "" : "s")} (no tensor '{probe(i)}')"));
            }
        }

        if (!allowUnused && declared >= 0 && contains(probe(declared)))
        {
            throw new InvalidDataException(string.Create(inv,
                $"{source}: '{key}' is {declared} but the checkpoint has more layers ('{probe(declared)}' would be unused; allow unused tensors to load it anyway)"));
        }
    }
}
