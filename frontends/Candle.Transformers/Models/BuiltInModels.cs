namespace Candle.Transformers.Models;

/// <summary>Registers the architectures that ship with Candle.Transformers.</summary>
internal static class BuiltInModels
{
    /// <summary>Called once by <see cref="ModelRegistry"/>; one line per architecture.</summary>
    public static void RegisterAll()
    {
    }
}
