using System.Text;
using System.Text.Json;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using CsCheck;

namespace Candle.Runtime.Tests.SafeTensors;

public class RoundTripTests
{
    private static readonly DType[] AllDTypes = Enum.GetValues<DType>();

    /// <summary>A tensor of any dtype and a shape of rank 0 to 4 (dims 0..5), filled with random bytes.</summary>
    private static readonly Gen<HostTensor> GenTensor =
        from dtype in Gen.OneOf(AllDTypes)
        from shape in Gen.Int[0, 5].Array[0, 4]
        from seed in Gen.Int
        select RandomTensor(dtype, shape, seed);

    private static HostTensor RandomTensor(DType dtype, int[] shape, int seed)
    {
        var t = HostTensor.Zeros(dtype, shape);
        new Random(seed).NextBytes(t.Data.Span);
        return t;
    }

    private static void AssertSameTensors(IReadOnlyList<KeyValuePair<string, HostTensor>> expected, SafeTensorsFile actual)
    {
        Assert.Equal(expected.Select(p => p.Key), actual.Names);
        foreach (var (name, tensor) in expected)
        {
            var back = actual.Get(name);
            Assert.Equal(tensor.DType, back.DType);
            Assert.Equal(tensor.Shape, back.Shape);
            Assert.True(tensor.Data.Span.SequenceEqual(back.Data.Span), name);
        }
    }

    [Fact]
    public void EveryDTypeScalarAndEmptyTensorRoundTrips()
    {
        var tensors = new List<KeyValuePair<string, HostTensor>>();
        int seed = 1;
        foreach (var dtype in AllDTypes)
        {
            string n = dtype.SafeTensorsName();
            tensors.Add(new($"{n}.matrix", RandomTensor(dtype, [3, 5], seed++)));
            tensors.Add(new($"{n}.scalar", RandomTensor(dtype, [], seed++)));
            tensors.Add(new($"{n}.empty", RandomTensor(dtype, [0], seed++)));
            tensors.Add(new($"{n}.empty3d", RandomTensor(dtype, [2, 0, 7], seed++)));
        }

        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode \"quoted\"" };
        using var dir = new TempDirectory();
        string path = dir.File("all.safetensors");
        SafeTensorsWriter.Write(path, tensors, metadata);
        using var st = SafeTensorsFile.Open(path);
        AssertSameTensors(tensors, st);
        Assert.Equal(metadata, st.Metadata);
        Assert.Equal(1, st.Get("F32.scalar").ElementCount);
        Assert.Empty(st.GetInfo("I64.scalar").Shape);
        Assert.Equal(0, st.Get("BF16.empty3d").Data.Length);
    }

    [Fact]
    public void RandomTensorListsRoundTrip()
    {
        using var dir = new TempDirectory();
        int file = 0;
        GenTensor.Array[0, 6].Sample(tensors =>
        {
            var named = tensors.Select((t, i) => KeyValuePair.Create($"t{i}", t)).ToList();
            string path = dir.File($"r{Interlocked.Increment(ref file)}.safetensors");
            SafeTensorsWriter.Write(path, named);
            using var st = SafeTensorsFile.Open(path);
            AssertSameTensors(named, st);
            Assert.Equal(0, st.DataOffset % 8);
        }, iter: 200);
    }

    [Fact]
    public void HeaderIsPaddedWithSpacesSoDataStartsEightAligned()
    {
        for (int nameLength = 1; nameLength <= 16; nameLength++)
        {
            var t = HostTensor.FromArray(new float[] { 1, 2, 3 }, 3);
            byte[] bytes = SafeTensorsWriter.ToBytes([KeyValuePair.Create(new string('w', nameLength), t)]);
            ulong n = RawSafeTensors.HeaderLength(bytes);
            Assert.Equal(0UL, (8 + n) % 8);
            Assert.Equal(8 + (long)n + 12, bytes.Length);

            string header = Encoding.UTF8.GetString(bytes, 8, (int)n);
            string json = header.TrimEnd(' ');
            Assert.True(header.Length - json.Length < 8);
            Assert.EndsWith("}", json, StringComparison.Ordinal);
            using var doc = JsonDocument.Parse(json);
            var entry = doc.RootElement.GetProperty(new string('w', nameLength));
            Assert.Equal("F32", entry.GetProperty("dtype").GetString());
            Assert.Equal([0L, 12L], entry.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
        }
    }

    [Fact]
    public void TensorsAreWrittenInTheGivenOrder()
    {
        var b = HostTensor.FromArray(new long[] { 7 }, 1);
        var a = HostTensor.FromArray(new byte[] { 1, 2, 3 }, 3);
        byte[] bytes = SafeTensorsWriter.ToBytes([KeyValuePair.Create("b", b), KeyValuePair.Create("a", a)]);
        int dataStart = 8 + (int)RawSafeTensors.HeaderLength(bytes);
        Assert.Equal([7, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3], bytes[dataStart..]);
    }

    [Fact]
    public void WriteToStreamMatchesWrite()
    {
        var tensors = new[] { KeyValuePair.Create("x", HostTensor.FromArray(new Half[] { (Half)1.5, (Half)(-2) }, 2, 1)) };
        using var dir = new TempDirectory();
        string path = dir.File("x.safetensors");
        SafeTensorsWriter.Write(path, tensors);
        using var stream = new MemoryStream();
        SafeTensorsWriter.WriteToStream(stream, tensors);
        Assert.Equal(File.ReadAllBytes(path), stream.ToArray());
    }

    [Fact]
    public void WriterRejectsDuplicateAndReservedNames()
    {
        var t = HostTensor.FromArray(new float[] { 1 }, 1);
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.ToBytes([KeyValuePair.Create("a", t), KeyValuePair.Create("a", t)]));
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.ToBytes([KeyValuePair.Create("__metadata__", t)]));
    }
}
