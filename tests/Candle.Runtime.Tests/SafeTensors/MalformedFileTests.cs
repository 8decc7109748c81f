using System.Text;
using Candle.Runtime.Weights.SafeTensors;

namespace Candle.Runtime.Tests.SafeTensors;

public sealed class MalformedFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string WriteFile(byte[] bytes, string name = "model.safetensors")
    {
        string path = _dir.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Asserts that opening fails with a message of the form "path: [tensor 'name': ]problem".</summary>
    private SafeTensorsFormatException AssertRejected(byte[] bytes, string expectedProblem, string? tensor = null)
    {
        string path = WriteFile(bytes);
        var ex = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path));
        string prefix = tensor is null ? $"{path}: " : $"{path}: tensor '{tensor}': ";
        Assert.StartsWith(prefix, ex.Message, StringComparison.Ordinal);
        Assert.Contains(expectedProblem, ex.Message, StringComparison.Ordinal);
        Assert.Equal(path, ex.FilePath);
        Assert.Equal(tensor, ex.TensorName);
        return ex;
    }

    private static string Entry(string name, string dtype, string shape, string offsets) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":{offsets}}}";

    private static byte[] File1(string entry, long dataLength) => RawSafeTensors.Build("{" + entry + "}", dataLength);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    public void TruncatedFileIsRejected(int length)
    {
        AssertRejected(new byte[length], $"the file is {length} bytes long, too short for the 8-byte header length");
    }

    [Fact]
    public void HeaderLengthLargerThanTheFileIsRejected()
    {
        AssertRejected(RawSafeTensors.Build("{}", 0, headerLengthOverride: 1000),
            "header length 1000 exceeds the 2 bytes that follow the 8-byte length prefix");
    }

    [Fact]
    public void HugeHeaderLengthIsRejected()
    {
        AssertRejected(RawSafeTensors.Build("{}", 0, headerLengthOverride: 1UL << 63),
            "header length 9223372036854775808 exceeds the 2 bytes that follow");
        AssertRejected(RawSafeTensors.Build("{}", 0, headerLengthOverride: ulong.MaxValue),
            "header length 18446744073709551615 exceeds");
    }

    [Fact]
    public void HeaderOverTheHundredMegabyteLimitIsRejected()
    {
        // A sparse file large enough to hold the claimed header: the limit, not the file length, must refuse it.
        string path = _dir.File("big.safetensors");
        using (var stream = new FileStream(path, FileMode.CreateNew))
        {
            stream.Write(BitConverter.GetBytes(100_000_001UL));
            stream.SetLength(8 + 100_000_001L + 8);
        }

        var ex = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Equal($"{path}: header length 100000001 exceeds the 100000000-byte limit", ex.Message);
    }

    [Fact]
    public void NegativeDimensionIsRejected()
    {
        AssertRejected(File1(Entry("w", "F32", "[-1,2]", "[0,0]"), 0), "shape dimension 0 is negative (-1)", "w");
        AssertRejected(File1(Entry("w", "F32", "[2,-9223372036854775809]", "[0,0]"), 0), "shape dimension 1 is negative", "w");
    }

    [Fact]
    public void OverlappingTensorsAreRejected()
    {
        string header = "{" + Entry("a", "F32", "[2]", "[0,8]") + "," + Entry("b", "F32", "[2]", "[4,12]") + "}";
        AssertRejected(RawSafeTensors.Build(header, 12), "data_offsets [4, 12] overlap tensor 'a' at [0, 8]", "b");
        // Found whatever the header order.
        header = "{" + Entry("b", "F32", "[2]", "[4,12]") + "," + Entry("a", "F32", "[2]", "[0,8]") + "}";
        AssertRejected(RawSafeTensors.Build(header, 12), "overlap tensor 'a'", "b");
        // Identical ranges overlap too.
        header = "{" + Entry("a", "U8", "[4]", "[0,4]") + "," + Entry("b", "I8", "[4]", "[0,4]") + "}";
        AssertRejected(RawSafeTensors.Build(header, 4), "data_offsets [0, 4] overlap tensor 'a' at [0, 4]", "b");
    }

    [Fact]
    public void OffsetsBeyondTheEndAreRejected()
    {
        AssertRejected(File1(Entry("w", "F32", "[2]", "[0,8]"), 4), "data_offsets [0, 8] reach beyond the data section of 4 bytes", "w");
        AssertRejected(File1(Entry("w", "U8", "[0]", "[5,5]"), 4), "data_offsets [5, 5] reach beyond the data section of 4 bytes", "w");
        AssertRejected(File1(Entry("w", "U8", "[1]", "[18446744073709551615,18446744073709551615]"), 4), "reach beyond", "w");
    }

    [Fact]
    public void BeginAfterEndIsRejected()
    {
        AssertRejected(File1(Entry("w", "U8", "[4]", "[8,4]"), 8), "data_offsets [8, 4] begin after they end", "w");
    }

    [Theory]
    [InlineData("F8_E4M3")]
    [InlineData("f32")]
    [InlineData("")]
    public void UnknownDTypeIsRejected(string dtype)
    {
        AssertRejected(File1(Entry("w", dtype, "[1]", "[0,1]"), 1), $"unknown dtype '{dtype}'", "w");
    }

    [Fact]
    public void ShapeAndSizeMismatchIsRejected()
    {
        var ex = AssertRejected(File1(Entry("lm_head.weight", "F32", "[512,256]", "[0,100]"), 100),
            "data_offsets [0, 100] hold 100 bytes but F32 [512, 256] needs 524288", "lm_head.weight");
        Assert.Equal($"{ex.FilePath}: tensor 'lm_head.weight': data_offsets [0, 100] hold 100 bytes but F32 [512, 256] needs 524288", ex.Message);
    }

    [Fact]
    public void OverflowingShapeProductIsRejected()
    {
        AssertRejected(File1(Entry("w", "U8", "[2147483647,2147483647,2147483647]", "[0,8]"), 8),
            "shape [2147483647, 2147483647, 2147483647] has more than 2^63 elements", "w");
        // 2^62-ish elements fit in 64 bits, their bytes do not.
        AssertRejected(File1(Entry("w", "F64", "[2147483647,2147483647]", "[0,8]"), 8),
            "F64 [2147483647, 2147483647] needs more than 2^63 bytes", "w");
    }

    [Fact]
    public void ZeroDimensionEmptiesTheTensorUnlessTheDimensionsBeforeItOverflow()
    {
        // The product is taken outermost first with overflow checks, as the reference implementation does.
        string path = WriteFile(File1(Entry("w", "F64", "[0,2147483647,2147483647,2147483647]", "[0,0]"), 0));
        using (var st = SafeTensorsFile.Open(path))
        {
            Assert.Equal(0, st.Get("w").ElementCount);
        }

        AssertRejected(File1(Entry("w", "F64", "[2147483647,2147483647,2147483647,0]", "[0,0]"), 0), "has more than 2^63 elements", "w");
    }

    [Theory]
    [InlineData("[1.5]", "shape dimension 0 (1.5) is not an integer in range")]
    [InlineData("[1e3]", "shape dimension 0 (1e3) is not an integer in range")]
    [InlineData("[3000000000]", "shape dimension 0 (3000000000) exceeds the largest supported dimension 2147483647")]
    [InlineData("[99999999999999999999]", "shape dimension 0 (99999999999999999999) is not an integer in range")]
    [InlineData("[\"2\"]", "shape dimension 0 is a JSON string, not an integer")]
    [InlineData("4", "'shape' is a JSON number, not an array")]
    public void BadShapeIsRejected(string shape, string problem)
    {
        AssertRejected(File1(Entry("w", "U8", shape, "[0,0]"), 0), problem, "w");
    }

    [Theory]
    [InlineData("[0]", "'data_offsets' must be an array of two integers [begin, end], not [0]")]
    [InlineData("[0,1,2]", "'data_offsets' must be an array of two integers")]
    [InlineData("[-1,0]", "data_offsets begin -1 is not a non-negative integer")]
    [InlineData("[0,0.5]", "data_offsets end 0.5 is not a non-negative integer")]
    [InlineData("{}", "'data_offsets' must be an array of two integers [begin, end], not {}")]
    public void BadOffsetsAreRejected(string offsets, string problem)
    {
        AssertRejected(File1(Entry("w", "U8", "[0]", offsets), 0), problem, "w");
    }

    [Theory]
    [InlineData("{\"w\":{\"shape\":[1],\"data_offsets\":[0,1]}}", "'dtype' is missing", "w")]
    [InlineData("{\"w\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", "'shape' is missing", "w")]
    [InlineData("{\"w\":{\"dtype\":\"U8\",\"shape\":[1]}}", "'data_offsets' is missing", "w")]
    [InlineData("{\"w\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", "'dtype' appears twice", "w")]
    [InlineData("{\"w\":[]}", "the entry is a JSON array, not an object", "w")]
    [InlineData("{\"w\":{\"dtype\":8,\"shape\":[1],\"data_offsets\":[0,1]}}", "'dtype' is a JSON number, not a string", "w")]
    [InlineData("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", "the name appears twice in the header", "w")]
    [InlineData("{\"__metadata__\":{\"a\":1}}", "'__metadata__' entry 'a' is a JSON number, not a string", null)]
    [InlineData("{\"__metadata__\":[]}", "'__metadata__' is a JSON array, not an object of strings", null)]
    [InlineData("{\"__metadata__\":{},\"__metadata__\":{}}", "'__metadata__' appears twice in the header", null)]
    [InlineData("[]", "the header is a JSON array, not an object", null)]
    [InlineData("\"x\"", "the header is a JSON string, not an object", null)]
    [InlineData("{", "the header is not valid JSON", null)]
    [InlineData("", "the header is not valid JSON", null)]
    [InlineData("{} {}", "the header is not valid JSON", null)]
    public void BadHeaderIsRejected(string header, string problem, string? tensor)
    {
        AssertRejected(RawSafeTensors.Build(header, 1), problem, tensor);
    }

    [Fact]
    public void InvalidUtf8IsRejected()
    {
        byte[] bytes = RawSafeTensors.Build("{\"__metadata__\":{\"a\":\"xx\"}}", 0);
        int at = Encoding.ASCII.GetString(bytes).IndexOf("xx", StringComparison.Ordinal);
        bytes[at] = 0xFF;
        bytes[at + 1] = 0xC0;
        AssertRejected(bytes, "the header is not valid UTF-8");
    }

    [Fact]
    public void TooDeepJsonIsRejected()
    {
        string deep = "{\"x\":" + new string('[', 200) + new string(']', 200) + "}";
        AssertRejected(RawSafeTensors.Build(deep, 0), "the header is not valid JSON");
    }

    [Fact]
    public void LegalOddities()
    {
        // Scalars, empty tensors (also at the very end), unknown keys, null metadata, padding spaces, a gap and
        // trailing bytes are all accepted.
        string header = "{\"__metadata__\":null,"
            + Entry("s", "F64", "[]", "[0,8]") + ","
            + "\"e\":{\"dtype\":\"BOOL\",\"shape\":[0,3],\"data_offsets\":[12,12],\"extra\":{\"nested\":[1,2]}},"
            + Entry("t", "U8", "[2]", "[12,14]") + ","
            + Entry("z", "I32", "[0]", "[16,16]") + "}    ";
        string path = WriteFile(RawSafeTensors.Build(header, 16));
        using var st = SafeTensorsFile.Open(path);
        Assert.Equal(["s", "e", "t", "z"], st.Names);
        Assert.Empty(st.Metadata);
        Assert.Empty(st.Get("s").Shape);
        Assert.Equal(1, st.Get("s").ElementCount);
        Assert.Equal([0, 3], st.Get("e").Shape);
        Assert.Equal(0, st.Get("z").Data.Length);
        Assert.Equal([12L, 13], st.Get("t").ToInt64());
    }

    [Fact]
    public void EmptyHeaderIsAFileWithoutTensors()
    {
        string path = WriteFile(RawSafeTensors.Build("{}", 0));
        using var st = SafeTensorsFile.Open(path);
        Assert.Empty(st.Names);
    }

    [Fact]
    public void LongNamesAreShortenedInMessages()
    {
        string name = new('n', 5000);
        var ex = AssertRejectedAnyTensor(File1(Entry(name, "U8", "[1]", "[0,2]"), 2));
        Assert.Equal(name, ex.TensorName);
        Assert.True(ex.Message.Length < 1000);
    }

    private SafeTensorsFormatException AssertRejectedAnyTensor(byte[] bytes)
    {
        string path = WriteFile(bytes);
        return Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path));
    }
}
