namespace Candle.Torch.Nn;

/// <summary>Argument checks shared by the convolution layers.</summary>
internal static class ConvChecks
{
    public static void Channels(string layer, long inChannels, long outChannels, int groups)
    {
        if (groups < 1 || inChannels < 1 || outChannels < 1 || inChannels % groups != 0 || outChannels % groups != 0)
        {
            throw new ArgumentException($"{layer}: in_channels {inChannels} and out_channels {outChannels} must be positive multiples of groups {groups}");
        }
    }
}
