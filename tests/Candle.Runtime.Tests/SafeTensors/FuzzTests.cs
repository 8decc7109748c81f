using System.Buffers.Binary;
using System.Text;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using CsCheck;

namespace Candle.Runtime.Tests.SafeTensors;

/// <summary>
/// Hostile-input fuzzing: every outcome must be a successful parse whose tensors lie within the file, or a
/// <see cref="SafeTensorsFormatException"/>. CsCheck prints the seed of a failing case; set the environment variable
/// CsCheck_Seed to replay it (and CsCheck_Iter or CsCheck_Time to run longer).
/// </summary>
public sealed class FuzzTests : IDisposable
{
    private const int Iterations = 2000;

    private static readonly byte[] BaseFile = SafeTensorsWriter.ToBytes(
    [
        KeyValuePair.Create("a", HostTensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3)),
        KeyValuePair.Create("scalar", HostTensor.FromArray(new long[] { 42 })),
        KeyValuePair.Create("empty", HostTensor.Zeros(DType.BF16, 0, 4)),
        KeyValuePair.Create("b", HostTensor.FromArray(new byte[] { 1, 2, 3, 4, 5 }, 5)),
    ], new Dictionary<string, string> { ["format"] = "pt" });

    private static readonly int BaseHeaderLength = (int)RawSafeTensors.HeaderLength(BaseFile);

    /// <summary>Bytes that turn JSON into other JSON (or nearly JSON) more often than random bytes do.</summary>
    private static readonly byte[] Interesting = [.. "0123456789-+.eE[]{}\",: \\u"u8, 0x00, 0x7F, 0x80, 0xC0, 0xFF];

    private readonly TempDirectory _dir = new();
    private int _files;
    private int _parsed;
    private int _rejected;

    public void Dispose() => _dir.Dispose();

    private enum EditKind { Replace, Insert, Delete }

    private static readonly Gen<(EditKind Kind, int Position, byte Value)> GenEdit =
        Gen.Select(
            Gen.Enum<EditKind>(),
            Gen.Int[0, BaseHeaderLength - 1],
            Gen.Frequency((1, Gen.Byte), (3, Gen.OneOf(Interesting))));

    /// <summary>How the 8-byte prefix is set: 0 as written, 1 the edited header's length, 2 random, 3 near the true length.</summary>
    private static readonly Gen<(int Mode, ulong Value)> GenPrefix =
        Gen.Select(Gen.Frequency((3, Gen.Const(0)), (3, Gen.Const(1)), (1, Gen.Const(2)), (1, Gen.Const(3))), Gen.ULong);

    /// <summary>-1 keeps the whole file; otherwise the file is cut to that many bytes.</summary>
    private static readonly Gen<int> GenCut = Gen.Frequency((4, Gen.Const(-1)), (1, Gen.Int[0, BaseFile.Length]));

    private static byte[] Mutate((EditKind Kind, int Position, byte Value)[] edits, (int Mode, ulong Value) prefix, int cut)
    {
        var header = new List<byte>(BaseFile.AsSpan(8, BaseHeaderLength).ToArray());
        foreach (var (kind, position, value) in edits)
        {
            int at = Math.Min(position, header.Count);
            switch (kind)
            {
                case EditKind.Replace when at < header.Count: header[at] = value; break;
                case EditKind.Insert: header.Insert(at, value); break;
                case EditKind.Delete when at < header.Count: header.RemoveAt(at); break;
                default: break;
            }
        }

        var data = BaseFile.AsSpan(8 + BaseHeaderLength);
        var bytes = new byte[8 + header.Count + data.Length];
        ulong length = prefix.Mode switch
        {
            0 => (ulong)BaseHeaderLength,
            1 => (ulong)header.Count,
            2 => prefix.Value,
            _ => unchecked((ulong)header.Count + (prefix.Value % 33) - 16),
        };
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes.AsSpan(8 + header.Count));
        return cut >= 0 && cut < bytes.Length ? bytes[..cut] : bytes;
    }

    /// <summary>Opens the bytes as a file: either a format error naming the file, or tensors that all lie in the file.</summary>
    private void OpenAndCheck(byte[] bytes)
    {
        string path = _dir.File($"f{Interlocked.Increment(ref _files)}.safetensors");
        File.WriteAllBytes(path, bytes);
        try
        {
            SafeTensorsFile st;
            try
            {
                st = SafeTensorsFile.Open(path);
            }
            catch (SafeTensorsFormatException e)
            {
                Assert.StartsWith(path + ": ", e.Message, StringComparison.Ordinal);
                Interlocked.Increment(ref _rejected);
                return;
            }

            using (st)
            {
                CheckParsed(st, bytes);
            }

            Interlocked.Increment(ref _parsed);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void CheckParsed(SafeTensorsFile st, byte[] bytes)
    {
        Assert.Equal(bytes.Length, st.FileLength);
        Assert.InRange(st.DataOffset, 8, bytes.Length);
        var ranges = new List<(long Begin, long End)>();
        foreach (string name in st.Names)
        {
            var info = st.GetInfo(name);
            Assert.InRange(info.Offset, st.DataOffset, bytes.Length);
            Assert.InRange(info.Length, 0, bytes.Length - info.Offset);
            Assert.Equal(info.ElementCount * info.DType.SizeInBytes(), info.Length);
            var tensor = st.Get(name);
            Assert.Equal(info.Length, tensor.Data.Length);
            Assert.True(bytes.AsSpan((int)info.Offset, (int)info.Length).SequenceEqual(tensor.Data.Span));
            if (info.Length > 0)
            {
                ranges.Add((info.Offset, info.Offset + info.Length));
            }
        }

        ranges.Sort();
        for (int i = 1; i < ranges.Count; i++)
        {
            Assert.True(ranges[i].Begin >= ranges[i - 1].End, "tensors overlap");
        }
    }

    /// <summary>A fuzz run that only ever parsed, or only ever failed, explored too little.</summary>
    private void AssertBothOutcomesSeen()
    {
        Console.WriteLine($"fuzz: {_parsed} parsed, {_rejected} rejected");
        Assert.True(_parsed > Iterations / 50, $"only {_parsed} of {Iterations} inputs parsed");
        Assert.True(_rejected > Iterations / 50, $"only {_rejected} of {Iterations} inputs were rejected");
    }

    [Fact]
    public void TheUnmutatedBaseFileParses()
    {
        OpenAndCheck(BaseFile);
        Assert.Equal(0, (8 + BaseHeaderLength) % 8);
    }

    [Fact]
    public void MutatedHeaderBytesAndLengthsNeverEscapeTheFormatException()
    {
        Gen.Select(GenEdit.Array[0, 6], GenPrefix, GenCut)
            .Sample((edits, prefix, cut) => OpenAndCheck(Mutate(edits, prefix, cut)), iter: Iterations);
        AssertBothOutcomesSeen();
    }

    private static readonly Gen<string> GenDType = Gen.Frequency(
        (8, Gen.OneOf("F32", "F16", "BF16", "F64", "I64", "I32", "I8", "U8", "BOOL")),
        (1, Gen.OneOf("F8_E4M3", "U64", "bool", "", "F32 ")));

    private static readonly Gen<string> GenNumber = Gen.Frequency(
        (6, Gen.Long[0, 24].Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture))),
        (1, Gen.OneOf("-1", "2147483647", "2147483648", "9223372036854775807", "9223372036854775808",
            "18446744073709551615", "18446744073709551616", "4611686018427387904", "1.0", "1e2", "-0", "null", "\"3\"")));

    private static readonly Gen<string> GenEntry =
        from name in Gen.OneOf("a", "b", "c", "d", "__metadata__", "")
        from dtype in GenDType
        from shape in GenNumber.Array[0, 4]
        from begin in GenNumber
        from length in Gen.Frequency((3, Gen.Const((string?)null)), (1, GenNumber.Select(s => (string?)s)))
        from extra in Gen.Bool
        select Entry(name, dtype, shape, begin, length, extra);

    private static string Entry(string name, string dtype, string[] shape, string begin, string? end, bool extra)
    {
        if (name == "__metadata__")
        {
            return extra ? "\"__metadata__\":{\"k\":\"v\"}" : "\"__metadata__\":{\"k\":" + begin + "}";
        }

        // By default make the end consistent with the shape when the numbers allow it, so that many cases get past
        // the size check and reach the overlap and bounds checks.
        if (end is null)
        {
            long count = 1;
            bool numeric = long.TryParse(begin, out long b);
            foreach (string d in shape)
            {
                numeric &= long.TryParse(d, out long v) && v is >= 0 and < 1000;
                count = numeric ? count * v : 0;
            }

            end = numeric && DTypeExtensions.TryParseSafeTensorsName(dtype, out var dt) ? (b + count * dt.SizeInBytes()).ToString(System.Globalization.CultureInfo.InvariantCulture) : begin;
        }

        var sb = new StringBuilder();
        sb.Append('"').Append(name).Append("\":{\"dtype\":\"").Append(dtype).Append("\",\"shape\":[")
            .AppendJoin(',', shape).Append("],\"data_offsets\":[").Append(begin).Append(',').Append(end).Append(']');
        if (extra)
        {
            sb.Append(",\"unknown\":[{\"x\":1}]");
        }

        return sb.Append('}').ToString();
    }

    [Fact]
    public void RandomHeadersNeverEscapeTheFormatException()
    {
        Gen.Select(GenEntry.Array[0, 5], Gen.Int[0, 200], Gen.Int[0, 7])
            .Sample((entries, dataLength, padding) =>
            {
                string header = "{" + string.Join(',', entries) + "}" + new string(' ', padding);
                OpenAndCheck(RawSafeTensors.Build(header, dataLength));
            }, iter: Iterations);
        AssertBothOutcomesSeen();
    }
}
