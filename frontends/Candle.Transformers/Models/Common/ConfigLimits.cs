using System.Globalization;

namespace Candle.Transformers.Models.Common;

/// <summary>
/// Bounds every config value is checked against before anything sized by it is allocated: a layer count no real
/// model approaches, and non-negative token ids. A value past a bound is an <see cref="InvalidDataException"/>
/// naming the file and the key.
/// </summary>
public static class ConfigLimits
{
    /// <summary>The most layers a config may declare (the largest released transformers have a few hundred).</summary>
    public const int MaxLayers = 16384;

    /// <summary>The largest attention head size a config may declare (released models use at most a few hundred).</summary>
    public const int MaxHeadDim = 1 << 14;

    /// <summary><paramref name="value"/> as a head size: positive and at most <see cref="MaxHeadDim"/> (rotary tables are sized by it).</summary>
    /// <exception cref="InvalidDataException">The size is out of range; the message names the file and key.</exception>
    public static int HeadDim(string source, string key, int value)
    {
        if (value < 1 || value > MaxHeadDim)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{source}: '{key}' is {value}, outside [1, {MaxHeadDim}]"));
        }

        return value;
    }

    /// <summary>
    /// <paramref name="value"/> as a layer count read from <paramref name="key"/>: at least <paramref name="minimum"/> and at
    /// most <see cref="MaxLayers"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">The count is out of range; the message names the file and key.</exception>
    public static int Layers(string source, string key, int value, int minimum = 1)
    {
        if (value < minimum) throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{source}: '{key}' must be ≥ {minimum}, got {value}"));
        if (value > MaxLayers)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{source}: '{key}' is {value}, more than the {MaxLayers} layers any supported model has"));
        }

        return value;
    }

    /// <summary>
    /// Checks that every token id of <paramref name="key"/> is non-negative (ids past the vocabulary are allowed: tiny
    /// test models keep the original special-token ids, and such an id is simply never produced).
    /// </summary>
    /// <exception cref="InvalidDataException">An id is negative; the message names the file, key and id.</exception>
    public static void TokenIds(string source, string key, IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        foreach (int id in ids)
        {
            if (id < 0) throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{source}: '{key}' {id} is not a token id (negative)"));
        }
    }
}
