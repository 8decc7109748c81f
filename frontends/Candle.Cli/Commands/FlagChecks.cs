namespace Candle.Cli.Commands;

/// <summary>Range checks of command-line flags whose messages name the flag.</summary>
internal static class FlagChecks
{
    /// <summary>Throws unless <paramref name="value"/> ≥ <paramref name="minimum"/>.</summary>
    /// <exception cref="ArgumentException">The message names the flag, the bound and the value.</exception>
    public static void AtLeast(string flag, int value, int minimum)
    {
        if (value < minimum) throw new ArgumentException($"{flag} must be ≥ {minimum}, got {value}");
    }
}
