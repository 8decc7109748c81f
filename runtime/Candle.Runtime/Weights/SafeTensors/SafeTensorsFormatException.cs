namespace Candle.Runtime.Weights.SafeTensors;

/// <summary>
/// A safetensors file or a sharded checkpoint index is malformed. The message names the file, the tensor
/// (when the problem belongs to one) and the problem, for example
/// <c>model.safetensors: tensor 'lm_head.weight': data_offsets [0, 100] hold 100 bytes but F32 [512, 256] needs 524288</c>.
/// </summary>
/// <remarks>
/// It derives from <see cref="IOException"/> because <see cref="InvalidDataException"/> is sealed; code that
/// handles failures to read a file catches it with the other I/O errors.
/// </remarks>
public sealed class SafeTensorsFormatException : IOException
{
    /// <summary>Creates an exception for a problem in <paramref name="filePath"/>, optionally about one tensor.</summary>
    /// <param name="filePath">The file that holds the problem, as it was given to the reader.</param>
    /// <param name="tensorName">The tensor the problem belongs to, or null for a problem of the whole file.</param>
    /// <param name="problem">What is wrong, without the file and tensor prefix.</param>
    /// <param name="innerException">The exception that revealed the problem, if any.</param>
    public SafeTensorsFormatException(string filePath, string? tensorName, string problem, Exception? innerException = null)
        : base(Format(filePath, tensorName, problem), innerException)
    {
        FilePath = filePath;
        TensorName = tensorName;
        Problem = problem;
    }

    /// <summary>Creates an exception with a ready-made message.</summary>
    public SafeTensorsFormatException()
        : this("(unknown file)", null, "malformed safetensors data")
    {
    }

    /// <summary>Creates an exception with a ready-made message.</summary>
    public SafeTensorsFormatException(string message)
        : this(message, null)
    {
    }

    /// <summary>Creates an exception with a ready-made message and the exception that caused it.</summary>
    public SafeTensorsFormatException(string message, Exception? innerException)
        : base(message, innerException)
    {
        FilePath = string.Empty;
        Problem = message;
    }

    /// <summary>The file that holds the problem (empty when the exception was made from a bare message).</summary>
    public string FilePath { get; }

    /// <summary>The tensor the problem belongs to, or null for a problem of the whole file.</summary>
    public string? TensorName { get; }

    /// <summary>What is wrong, without the file and tensor prefix.</summary>
    public string Problem { get; }

    private static string Format(string filePath, string? tensorName, string problem) =>
        tensorName is null ? $"{filePath}: {problem}" : $"{filePath}: tensor '{Shorten(tensorName, 200)}': {problem}";

    /// <summary>Cuts text taken from a file to at most <paramref name="max"/> characters for a message.</summary>
    internal static string Shorten(string text, int max) =>
        text.Length <= max ? text : string.Concat(text.AsSpan(0, max - 3), "...");
}
