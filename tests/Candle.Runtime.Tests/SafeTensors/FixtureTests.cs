using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Tests;

namespace Candle.Runtime.Tests.SafeTensors;

public class FixtureTests
{
    public static TheoryData<string, string> FixtureFiles()
    {
        var data = new TheoryData<string, string>();
        foreach (string model in Fixtures.ModelNames)
        {
            data.Add(model, "model.safetensors");
            data.Add(model, "reference.safetensors");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(FixtureFiles))]
    public void EveryTensorLoadsAndMatchesTheFileBytes(string model, string file)
    {
        string path = Path.Combine(Fixtures.Model(model), file);
        byte[] raw = File.ReadAllBytes(path);
        using var st = SafeTensorsFile.Open(path);

        Assert.NotEmpty(st.Names);
        Assert.Equal(raw.Length, st.FileLength);
        Assert.Equal(8 + (long)RawSafeTensors.HeaderLength(raw), st.DataOffset);
        Assert.Equal(0, st.DataOffset % 8);
        if (file == "model.safetensors")
        {
            Assert.Equal("pt", st.Metadata["format"]);
        }

        foreach (string name in st.Names)
        {
            Assert.True(st.Contains(name));
            var info = st.GetInfo(name);
            var tensor = st.Get(name);
            Assert.Equal(info.DType, tensor.DType);
            Assert.Equal(info.Shape, tensor.Shape);
            Assert.Equal(info.Length, tensor.Data.Length);
            Assert.InRange(info.Offset, st.DataOffset, raw.Length - info.Length);
            Assert.True(raw.AsSpan((int)info.Offset, (int)info.Length).SequenceEqual(tensor.Data.Span), name);
        }
    }

    [Theory]
    [MemberData(nameof(FixtureFiles))]
    public void WriterReproducesTheFixtureByteForByte(string model, string file)
    {
        // The fixtures were written by the reference implementation; writing the same tensors in the same order
        // with the same metadata must give the same bytes, padding included.
        string path = Path.Combine(Fixtures.Model(model), file);
        using var st = SafeTensorsFile.Open(path);
        byte[] written = SafeTensorsWriter.ToBytes(
            st.Names.Select(n => KeyValuePair.Create(n, st.Get(n))),
            st.Metadata.Count > 0 ? st.Metadata : null);
        Assert.Equal(File.ReadAllBytes(path), written);
    }

    [Fact]
    public void LlamaLmHeadIsF32Of512By256()
    {
        using var st = SafeTensorsFile.Open(Path.Combine(Fixtures.Model("llama"), "model.safetensors"));
        var info = st.GetInfo("lm_head.weight");
        Assert.Equal(DType.F32, info.DType);
        Assert.Equal([512, 256], info.Shape);
        Assert.Equal(512L * 256 * 4, info.Length);
        Assert.Equal(512L * 256, info.ElementCount);
        var t = st.Get("lm_head.weight");
        Assert.Equal(512 * 256, t.ToFloat32().Length);
    }

    [Fact]
    public void LlamaReferenceInputIdsMatchReferenceJson()
    {
        string dir = Fixtures.Model("llama");
        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "reference.json")));
        long[] prompt = json.RootElement.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        Assert.Equal([175, 196, 25, 502, 67, 211, 407, 103, 348, 185, 398, 23], prompt);

        using var st = SafeTensorsFile.Open(Path.Combine(dir, "reference.safetensors"));
        var ids = st.Get("input_ids");
        Assert.Equal(DType.I64, ids.DType);
        Assert.Equal([2, 12], ids.Shape);
        Assert.Equal(prompt, ids.ToInt64()[..12]);
    }

    [Fact]
    public void WhisperReferenceHoldsTheEncoderState()
    {
        using var st = SafeTensorsFile.Open(Path.Combine(Fixtures.Model("whisper"), "reference.safetensors"));
        var info = st.GetInfo("encoder_last_hidden_state");
        Assert.Equal(DType.F32, info.DType);
        Assert.Equal([1, 32, 64], info.Shape);
        Assert.Empty(st.Metadata);
    }

    [Fact]
    public void LoadedTensorsAreZeroCopy()
    {
        using var st = SafeTensorsFile.Open(Path.Combine(Fixtures.Model("gpt2"), "model.safetensors"));
        foreach (string name in st.Names)
        {
            ReadOnlyMemory<byte> data = st.Get(name).Data;
            Assert.False(MemoryMarshal.TryGetArray(data, out _), name);
        }

        // Two views of one tensor share the same mapped address.
        var a = st.Get(st.Names[0]);
        var b = st.Get(st.Names[0]);
        Assert.True(Unsafe.AreSame(ref MemoryMarshal.GetReference(a.Data.Span), ref MemoryMarshal.GetReference(b.Data.Span)));
    }

    [Fact]
    public void TensorsOutliveTheDisposedFile()
    {
        string path = Path.Combine(Fixtures.Model("llama"), "reference.safetensors");
        var st = SafeTensorsFile.Open(path);
        var ids = st.Get("input_ids");
        st.Dispose();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.Equal(175, ids.GetInt64(0));
        Assert.Throws<ObjectDisposedException>(() => st.Get("input_ids"));
    }

    [Fact]
    public void MissingTensorNamesFileAndTensor()
    {
        string path = Path.Combine(Fixtures.Model("bert"), "model.safetensors");
        using var st = SafeTensorsFile.Open(path);
        Assert.False(st.Contains("no.such.weight"));
        var ex = Assert.Throws<KeyNotFoundException>(() => st.Get("no.such.weight"));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("'no.such.weight'", ex.Message, StringComparison.Ordinal);
        Assert.Throws<KeyNotFoundException>(() => st.GetInfo("no.such.weight"));
    }

    [Fact]
    public void CheckpointOpensAModelFolder()
    {
        using var source = SafeTensorsCheckpoint.Open(Fixtures.Model("llama"));
        Assert.IsType<SafeTensorsFile>(source);
        Assert.True(source.Contains("lm_head.weight"));
        Assert.Equal("pt", source.Metadata["format"]);
    }
}
