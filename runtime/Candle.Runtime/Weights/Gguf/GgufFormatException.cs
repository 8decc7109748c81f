namespace Candle.Runtime.Weights.Gguf;

/// <summary>
/// A GGUF file is malformed. The message names the file, the tensor or metadata key (when the problem belongs to one)
/// and the problem, for example <c>model.gguf: tensor 'blk.0.attn_q.weight': offset 100 is not a multiple of the alignment 32</c>.
/// </summary>
/// <remarks>It derives from <see cref="IOException"/> so that code handling failures to read a file catches it too.</remarks>
public sealed class GgufFormatException : IOException
{
    /// <summary>Creates an exception for a problem in <paramref name="filePath"/>, optionally about one tensor or key.</summary>
    /// <param name="filePath">The file, as it was given to the reader.</param>
    /// <param name="tensorName">The tensor the problem belongs to, or null.</param>
    /// <param name="key">The metadata key the problem belongs to, or null.</param>
    /// <param name="problem">What is wrong, without the file, tensor and key prefix.</param>
    /// <param name="innerException">The exception that revealed the problem, if any.</param>
    public GgufFormatException(string filePath, string? tensorName, string? key, string problem, Exception? innerException = null)
        : base(Format(filePath, tensorName, key, problem), innerException)
    {
        FilePath = filePath;
        TensorName = tensorName;
        Key = key;
        Problem = problem;
    }

    /// <summary>Creates an exception with a generic message.</summary>
    public GgufFormatException()
        : this("(unknown file)", null, null, "malformed GGUF data")
    {
    }

    /// <summary>Creates an exception with a ready-made message.</summary>
    public GgufFormatException(string message)
        : this(message, null)
    {
    }

    /// <summary>Creates an exception with a ready-made message and the exception that caused it.</summary>
    public GgufFormatException(string message, Exception? innerException)
        : base(message, innerException)
    {
        FilePath = string.Empty;
        Problem = message;
    }

    /// <summary>The file that holds the problem (empty when made from a bare message).</summary>
    public string FilePath { get; }

    /// <summary>The tensor the problem belongs to, or null.</summary>
    public string? TensorName { get; }

    /// <summary>The metadata key the problem belongs to, or null.</summary>
    public string? Key { get; }

    /// <summary>What is wrong, without the prefix.</summary>
    public string Problem { get; }

    private static string Format(string filePath, string? tensorName, string? key, string problem)
    {
        string where = tensorName is not null ? $"tensor '{Shorten(tensorName)}': " : key is not null ? $"key '{Shorten(key)}': " : string.Empty;
        return $"{filePath}: {where}{problem}";
    }

    /// <summary>Cuts text taken from a file to at most 200 characters for a message.</summary>
    internal static string Shorten(string text) => text.Length <= 200 ? text : string.Concat(text.AsSpan(0, 197), "...");
}
