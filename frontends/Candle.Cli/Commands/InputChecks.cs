using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Cli.Commands;

/// <summary>Checks a tensor read from an inputs file against the graph input it feeds, before anything runs.</summary>
internal static class InputChecks
{
    /// <summary>
    /// <paramref name="given"/> converted to <paramref name="declared"/>: integers widen or narrow to the declared
    /// integer type when every value fits, floats convert to the declared float type; a floating-point tensor for an
    /// integer input (token ids, masks) is an error rather than a truncation.
    /// </summary>
    /// <exception cref="ArgumentException">The dtypes are incompatible or a value does not fit; the message names the file and the input.</exception>
    public static HostTensor Convert(string file, string name, HostTensor given, DType declared)
    {
        if (given.DType == declared) return given;
        if (declared.IsInteger() && !given.DType.IsInteger())
        {
            throw new ArgumentException(
                $"{file}: input '{name}' is {given.DType.TorchName()} but must be an integer tensor ({declared.TorchName()}); token ids and masks are not rounded");
        }

        if (declared.IsInteger())
        {
            var values = given.ToInt64();
            var (min, max) = declared switch
            {
                DType.I32 => ((long)int.MinValue, (long)int.MaxValue),
                DType.I8 => (sbyte.MinValue, sbyte.MaxValue),
                DType.U8 => (byte.MinValue, byte.MaxValue),
                _ => (long.MinValue, long.MaxValue),
            };
            for (int i = 0; i < values.Length; i++)
            {
                if (values[i] < min || values[i] > max)
                {
                    throw new ArgumentException($"{file}: input '{name}' value {values[i]} at position {i} does not fit {declared.TorchName()}");
                }
            }
        }

        return given.Cast(declared);
    }

    /// <summary>Checks that every id of <paramref name="ids"/> lies in [0, <paramref name="vocabSize"/>).</summary>
    /// <exception cref="ArgumentException">An id is outside the vocabulary; the message names the file, input and position.</exception>
    public static void TokenIds(string file, string name, HostTensor ids, int vocabSize)
    {
        var values = ids.ToInt64();
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] < 0 || values[i] >= vocabSize)
            {
                throw new ArgumentException($"{file}: input '{name}' has token id {values[i]} at position {i}, outside the vocabulary [0, {vocabSize})");
            }
        }
    }
    /// <summary>
    /// Checks that every value of a floating-point input (pixel values, audio features, embeddings) is finite after its
    /// conversion to the declared dtype: a NaN or infinity, or a value too large for the declared type, would make every
    /// output NaN without an error.
    /// </summary>
    /// <exception cref="ArgumentException">A value is NaN or infinite; the message names the file, input and position.</exception>
    public static void Finite(string file, string name, HostTensor values)
    {
        if (!values.DType.IsFloat()) return;
        var data = values.ToFloat64();
        for (int i = 0; i < data.Length; i++)
        {
            if (!double.IsFinite(data[i]))
            {
                throw new ArgumentException(
                    $"{file}: input '{name}' has {data[i].ToString(System.Globalization.CultureInfo.InvariantCulture)} at position {i} (as {values.DType.TorchName()}); model inputs must be finite");
            }
        }
    }
}
