using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.Gguf;
using CsCheck;

namespace Candle.Runtime.Tests.Gguf;

/// <summary>
/// Hostile-input fuzzing: every outcome must be a parse whose tensors lie within the file (and dequantize), or a
/// <see cref="GgufFormatException"/> naming the file. Set CsCheck_Seed to replay a failing case.
/// </summary>
public sealed class FuzzTests : IDisposable
{
    private const int Iterations = 1500;

    private static readonly byte[] BaseFile = new GgufWriter()
        .Add("general.architecture", "llama")
        .Add("llama.block_count", 2u)
        .Add("f", 0.25f)
        .Add("flag", true)
        .Add("tokens", GgufValue.From(GgufArray.Of("<s>", "a", "bc")))
        .Add("nested", GgufValue.From(GgufArray.Of(GgufArray.Of(1, 2), GgufArray.Of<int>())))
        .AddTensor("a", HostTensor.FromArray(new float[] { 1, 2, 3, 4 }, 2, 2), GgmlType.F32)
        .AddTensor("q", HostTensor.FromArray(Enumerable.Range(0, 64).Select(i => i * 0.1f).ToArray(), 2, 32), GgmlType.Q8_0)
        .AddTensor("h", HostTensor.FromArray(new float[] { 1, 2, 3 }, 3), GgmlType.F16)
        .ToArray();

    private static readonly int HeaderEnd = FindDataStart();

    /// <summary>Values that hit the edges of lengths, counts, types and offsets.</summary>
    private static readonly byte[] Interesting = [0, 1, 2, 3, 4, 7, 8, 9, 12, 13, 14, 30, 31, 32, 33, 0x7F, 0x80, 0xFF];

    private readonly GgufTempDir _dir = new();
    private int _files;
    private int _parsed;
    private int _rejected;

    public void Dispose() => _dir.Dispose();

    private static int FindDataStart()
    {
        var dir = Path.Combine(Path.GetTempPath(), "candle-gguf-base-" + Guid.NewGuid().ToString("N") + ".gguf");
        File.WriteAllBytes(dir, BaseFile);
        try
        {
            using var f = GgufFile.Open(dir);
            return (int)f.DataOffset;
        }
        finally
        {
            File.Delete(dir);
        }
    }

    private enum EditKind { Replace, Insert, Delete, Word }

    private static readonly Gen<(EditKind Kind, int Position, byte Value, ulong Word)> GenEdit =
        Gen.Select(Gen.Frequency((4, Gen.Const(EditKind.Replace)), (2, Gen.Const(EditKind.Word)), (1, Gen.Const(EditKind.Insert)), (1, Gen.Const(EditKind.Delete))), Gen.Int[0, HeaderEnd - 1], Gen.Frequency((1, Gen.Byte), (3, Gen.OneOf(Interesting))),
            Gen.Frequency((2, Gen.ULong), (2, Gen.ULong[0, 300]), (1, Gen.OneOf(ulong.MaxValue, 1UL << 63, 1UL << 32, (ulong)int.MaxValue))));

    private static readonly Gen<int> GenCut = Gen.Frequency((4, Gen.Const(-1)), (1, Gen.Int[0, BaseFile.Length]));

    private static byte[] Mutate((EditKind Kind, int Position, byte Value, ulong Word)[] edits, int cut)
    {
        var bytes = new List<byte>(BaseFile);
        foreach (var (kind, position, value, word) in edits)
        {
            int at = Math.Min(position, bytes.Count);
            switch (kind)
            {
                case EditKind.Replace when at < bytes.Count: bytes[at] = value; break;
                case EditKind.Insert: bytes.Insert(at, value); break;
                case EditKind.Delete when at < bytes.Count: bytes.RemoveAt(at); break;
                case EditKind.Word:
                    var w = BitConverter.GetBytes(word);
                    for (int i = 0; i < 8 && at + i < bytes.Count; i++)
                    {
                        bytes[at + i] = w[i];
                    }

                    break;
                default: break;
            }
        }

        var r = bytes.ToArray();
        return cut >= 0 && cut < r.Length ? r[..cut] : r;
    }

    private void OpenAndCheck(byte[] bytes)
    {
        string path = _dir.Write($"f{Interlocked.Increment(ref _files)}.gguf", bytes);
        try
        {
            GgufFile f;
            try
            {
                f = GgufFile.Open(path);
            }
            catch (GgufFormatException e)
            {
                Assert.StartsWith(path + ": ", e.Message, StringComparison.Ordinal);
                Interlocked.Increment(ref _rejected);
                return;
            }

            using (f)
            {
                Assert.InRange(f.DataOffset, 24, bytes.Length);
                var ranges = new List<(long Begin, long End)>();
                foreach (var t in f.Tensors)
                {
                    Assert.InRange(t.FileOffset, f.DataOffset, bytes.Length);
                    Assert.InRange(t.ByteLength, 0, bytes.Length - t.FileOffset);
                    Assert.Equal(t.ByteLength, f.GetRawData(t.Name).Length);
                    if (GgmlTypeTraits.CanDequantize(t.Type) && t.ElementCount < 1_000_000)
                    {
                        Assert.Equal(t.ElementCount, f.Dequantize(t.Name).ElementCount);
                    }

                    if (t.ByteLength > 0)
                    {
                        ranges.Add((t.FileOffset, t.FileOffset + t.ByteLength));
                    }
                }

                ranges.Sort();
                for (int i = 1; i < ranges.Count; i++)
                {
                    Assert.True(ranges[i].Begin >= ranges[i - 1].End, "tensors overlap");
                }

                foreach (var (key, value) in f.Metadata)
                {
                    Assert.NotNull(key);
                    Assert.NotNull(value.Value);
                }
            }

            Interlocked.Increment(ref _parsed);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void TheUnmutatedBaseFileParses()
    {
        OpenAndCheck(BaseFile);
        Assert.Equal(1, _parsed);
    }

    [Fact]
    public void MutatedAndTruncatedHeadersNeverEscapeTheFormatException()
    {
        Gen.Select(GenEdit.Array[1, 3], GenCut).Sample((edits, cut) => OpenAndCheck(Mutate(edits, cut)), iter: Iterations);
        Console.WriteLine($"gguf fuzz: {_parsed} parsed, {_rejected} rejected");
        Assert.True(_parsed > Iterations / 100, $"only {_parsed} of {Iterations} inputs parsed");
        Assert.True(_rejected > Iterations / 50, $"only {_rejected} of {Iterations} inputs were rejected");
    }

    private static readonly Gen<byte[]> GenRandomHeader =
        from version in Gen.Frequency((5, Gen.Const(3u)), (1, Gen.UInt[0, 5]))
        from tensors in Gen.Frequency((4, Gen.ULong[0, 3]), (1, Gen.ULong))
        from kvs in Gen.Frequency((4, Gen.ULong[0, 3]), (1, Gen.ULong))
        from body in Gen.Frequency((1, Gen.Byte), (4, Gen.OneOf(Interesting))).Array[0, 200]
        select new RawGguf().Header(version, tensors, kvs).Bytes(body).ToArray();

    [Fact]
    public void RandomHeadersNeverEscapeTheFormatException()
    {
        GenRandomHeader.Sample(OpenAndCheck, iter: Iterations);
        Assert.True(_rejected > Iterations / 2, $"only {_rejected} of {Iterations} inputs were rejected");
    }
}
