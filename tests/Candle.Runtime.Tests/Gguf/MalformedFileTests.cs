using Candle.Runtime.Weights.Gguf;

namespace Candle.Runtime.Tests.Gguf;

public sealed class MalformedFileTests : IDisposable
{
    private readonly GgufTempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private GgufFormatException AssertRejected(byte[] bytes, string problem, string? tensor = null, string? key = null)
    {
        string path = _dir.Write("model.gguf", bytes);
        var ex = Assert.Throws<GgufFormatException>(() => GgufFile.Open(path));
        string prefix = tensor is not null ? $"{path}: tensor '{tensor}': " : key is not null ? $"{path}: key '{key}': " : $"{path}: ";
        Assert.StartsWith(prefix, ex.Message, StringComparison.Ordinal);
        Assert.Contains(problem, ex.Message, StringComparison.Ordinal);
        Assert.Equal(path, ex.FilePath);
        Assert.Equal(tensor, ex.TensorName);
        Assert.Equal(key, ex.Key);
        return ex;
    }

    private static byte[] OneTensor(ulong[] dims, uint type, ulong offset, int dataBytes, params (string Key, uint Value)[] kvs)
    {
        var g = new RawGguf().Header(3, 1, (ulong)kvs.Length);
        foreach (var (k, v) in kvs)
        {
            g.KvU32(k, v);
        }

        return g.Tensor("w", dims, type, offset).PadTo(32).Zeros(dataBytes).ToArray();
    }

    [Fact]
    public void AWellFormedHandBuiltFileOpens()
    {
        string path = _dir.Write("ok.gguf", OneTensor([32, 2], 8, 0, 68));
        using var f = GgufFile.Open(path);
        Assert.Equal([2, 32], f.GetInfo("w").Shape);
        Assert.Equal(68, f.GetRawData("w").Length);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    [InlineData(23)]
    public void TooShortFileIsRejected(int length)
    {
        AssertRejected(new byte[length], $"the file is {length} bytes long, too short for the 24-byte GGUF header");
    }

    [Fact]
    public void BadMagicIsRejected()
    {
        var bytes = new RawGguf().Header(3, 0, 0).ToArray();
        bytes[0] = (byte)'X';
        AssertRejected(bytes, "bad magic 58475546 (expected 47475546, \"GGUF\"): not a GGUF file");
    }

    [Fact]
    public void Version1IsRejected()
    {
        AssertRejected(new RawGguf().Header(1, 0, 0).ToArray(), "GGUF version 1 is not supported (only versions 2 and 3)");
        AssertRejected(new RawGguf().Header(4, 0, 0).ToArray(), "GGUF version 4 is not supported");
        AssertRejected(new RawGguf().Header(0x0300_0000, 0, 0).ToArray(), "looks byte-swapped");
    }

    [Fact]
    public void CountsLargerThanTheFileAreRejected()
    {
        AssertRejected(new RawGguf().Header(3, 1000, 0).ToArray(), "tensor count 1000 is more than the 0 bytes left in the file can hold");
        AssertRejected(new RawGguf().Header(3, 0, ulong.MaxValue).Zeros(100).ToArray(), "metadata count 18446744073709551615 is more than the 100 bytes left");
        AssertRejected(new RawGguf().Header(3, 0, 1).Str("k").U32(9).U32(0).U64(1UL << 40).ToArray(), "array length 1099511627776 is more than the 0 bytes left", key: "k");
    }

    [Fact]
    public void StringLengthBeyondTheEndIsRejected()
    {
        AssertRejected(new RawGguf().Header(3, 0, 1).U64(500).Bytes("abc"u8).Zeros(10).ToArray(), "the key of metadata pair 0 length 500 exceeds the 13 bytes left in the file");
        AssertRejected(new RawGguf().Header(3, 0, 1).Str("general.name").U32(8).U64(ulong.MaxValue).ToArray(),
            "a string value length 18446744073709551615 exceeds the 0 bytes left", key: "general.name");
    }

    [Fact]
    public void TruncatedValueIsRejected()
    {
        AssertRejected(new RawGguf().Header(3, 0, 1).Str("k").U32(10).U32(7).ToArray(), "the file ends at byte", key: "k");
    }

    [Fact]
    public void MisalignedOffsetIsRejected()
    {
        AssertRejected(OneTensor([32], 0, 4, 200), "offset 4 is not a multiple of the alignment 32", tensor: "w");
    }

    [Fact]
    public void DataBeyondTheEndIsRejected()
    {
        AssertRejected(OneTensor([32, 2], 8, 0, 67), "its 68 bytes at data offset 0 run past the end of the 67-byte data section", tensor: "w");
        AssertRejected(OneTensor([32], 0, 1UL << 62, 128), "run past the end", tensor: "w");
    }

    [Fact]
    public void UnknownTypesAreRejected()
    {
        AssertRejected(OneTensor([32], 4, 0, 32), "unknown ggml type 4", tensor: "w");
        AssertRejected(OneTensor([32], 1000, 0, 32), "unknown ggml type 1000", tensor: "w");
        AssertRejected(new RawGguf().Header(3, 0, 1).Str("k").U32(13).U32(0).ToArray(), "unknown value type 13", key: "k");
        AssertRejected(new RawGguf().Header(3, 0, 1).Str("k").U32(9).U32(77).U64(0).ToArray(), "unknown array element type 77", key: "k");
    }

    [Fact]
    public void RowsThatAreNotWholeBlocksAreRejected()
    {
        AssertRejected(OneTensor([16, 2], 2, 0, 64), "type q4_0 needs rows (ggml dimension 0) that are a multiple of 32 values, but dimension 0 is 16", tensor: "w");
    }

    [Fact]
    public void BadDimensionsAreRejected()
    {
        AssertRejected(OneTensor([1, 1, 1, 1, 1], 0, 0, 32), "5 dimensions, more than the 4 ggml supports", tensor: "w");
        AssertRejected(OneTensor([1UL << 33], 0, 0, 32), "dimension 0 is 8589934592, more than 2147483647", tensor: "w");
        AssertRejected(OneTensor([int.MaxValue, int.MaxValue, int.MaxValue, int.MaxValue], 0, 0, 32), "hold more than 2^63 elements", tensor: "w");
    }

    [Fact]
    public void OverlappingTensorsAreRejected()
    {
        var bytes = new RawGguf().Header(3, 2, 0).Tensor("a", [32], 0, 0).Tensor("b", [32], 0, 96).PadTo(32).Zeros(256).ToArray();
        AssertRejected(bytes, "its data at offset 96 overlaps tensor 'a' ([0, 128))", tensor: "b");
    }

    [Fact]
    public void DuplicatesAndBadAlignmentAreRejected()
    {
        AssertRejected(new RawGguf().Header(3, 0, 2).KvU32("k", 1).KvU32("k", 2).ToArray(), "the key appears twice", key: "k");
        AssertRejected(new RawGguf().Header(3, 2, 0).Tensor("a", [32], 0, 0).Tensor("a", [32], 0, 128).PadTo(32).Zeros(256).ToArray(), "the tensor name appears twice", tensor: "a");
        AssertRejected(OneTensor([32], 0, 0, 128, ("general.alignment", 24)), "alignment 24 is not a power of two", key: "general.alignment");
        AssertRejected(OneTensor([32], 0, 0, 128, ("general.alignment", 0)), "alignment 0 is not a power of two", key: "general.alignment");
        AssertRejected(new RawGguf().Header(3, 0, 1).KvString("general.alignment", "32").ToArray(), "the alignment must be a UInt32, not a String", key: "general.alignment");
    }

    [Fact]
    public void BadBoolsAndDeepNestingAreRejected()
    {
        AssertRejected(new RawGguf().Header(3, 0, 1).Str("flag").U32(7).Bytes([2]).ToArray(), "Bool value byte 2 is neither 0 nor 1", key: "flag");
        var deep = new RawGguf().Header(3, 0, 1).Str("deep").U32(9);
        for (int i = 0; i < 20; i++)
        {
            deep.U32(9).U64(1);
        }

        AssertRejected(deep.U32(4).U64(0).ToArray(), "arrays are nested more than 8 deep", key: "deep");
    }

    [Fact]
    public void InvalidUtf8NameIsRejected()
    {
        var bytes = new RawGguf().Header(3, 0, 1).U64(2).Bytes([0xC3, 0x28]).U32(4).U32(1).ToArray();
        AssertRejected(bytes, "is not valid UTF-8");
    }

    [Fact]
    public void DataSectionStartingBeyondTheFileIsRejected()
    {
        var bytes = new RawGguf().Header(3, 1, 0).Tensor("w", [0], 0, 0).ToArray();
        AssertRejected(bytes, "the data section would start at byte 64, beyond the end of the");
    }
}
