using Candle.Torch.Nn;

namespace Candle.Transformers.Models;

/// <summary>
/// Turns what building a model from a config can throw into one-line errors that name the config file: a state dict
/// that does not match (its multi-line report joined), an unsupported setting raised deep in a layer, and sizes whose
/// products overflow.
/// </summary>
internal static class LoadErrors
{
    private const int MaxLength = 600;

    public static T Named<T>(string file, Func<T> build)
    {
        try
        {
            return build();
        }
        catch (StateDictException e)
        {
            throw new InvalidDataException($"{file}: the checkpoint does not match the config: {OneLine(e.Message)}", e);
        }
        catch (NotSupportedException e) when (!e.Message.Contains(file, StringComparison.Ordinal))
        {
            throw new NotSupportedException($"{file}: {OneLine(e.Message)}", e);
        }
        catch (InvalidDataException e) when (!e.Message.Contains(file, StringComparison.Ordinal) && !e.Message.Contains(Path.GetDirectoryName(file) ?? file, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{file}: {OneLine(e.Message)}", e);
        }
        catch (OverflowException e)
        {
            throw new InvalidDataException($"{file}: the config's sizes are too large: a tensor they describe exceeds what one buffer can hold", e);
        }
    }

    private static string OneLine(string message)
    {
        string joined = string.Join("; ", message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return joined.Length <= MaxLength ? joined : joined[..MaxLength] + "…";
    }
}
