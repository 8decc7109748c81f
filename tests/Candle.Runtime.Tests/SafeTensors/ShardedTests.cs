using System.Text.Json;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;

namespace Candle.Runtime.Tests.SafeTensors;

public class ShardedTests
{
    private static readonly HostTensor A = HostTensor.FromArray(new float[] { 1, 2, 3, 4 }, 2, 2);
    private static readonly HostTensor B = HostTensor.FromArray(new long[] { 10, 20, 30 }, 3);
    private static readonly HostTensor C = HostTensor.FromArray(new byte[] { 9 }, 1);

    private static void WriteShards(TempDirectory dir)
    {
        SafeTensorsWriter.Write(dir.File("model-00001-of-00002.safetensors"), [KeyValuePair.Create("a", A), KeyValuePair.Create("b", B)]);
        SafeTensorsWriter.Write(dir.File("model-00002-of-00002.safetensors"), [KeyValuePair.Create("c", C)]);
    }

    private static void WriteIndex(TempDirectory dir, Dictionary<string, string> weightMap)
    {
        var index = new Dictionary<string, object>
        {
            ["metadata"] = new Dictionary<string, object> { ["total_size"] = 16 + 24 + 1 },
            ["weight_map"] = weightMap,
        };
        File.WriteAllText(dir.File("model.safetensors.index.json"), JsonSerializer.Serialize(index));
    }

    private static Dictionary<string, string> GoodMap() => new()
    {
        ["a"] = "model-00001-of-00002.safetensors",
        ["c"] = "model-00002-of-00002.safetensors",
        ["b"] = "model-00001-of-00002.safetensors",
    };

    [Fact]
    public void CheckpointOpensTheIndexAndReadsFromBothShards()
    {
        using var dir = new TempDirectory();
        WriteShards(dir);
        WriteIndex(dir, GoodMap());

        using var source = SafeTensorsCheckpoint.Open(dir.Path);
        var sharded = Assert.IsType<ShardedSafeTensors>(source);
        Assert.Equal(["a", "c", "b"], source.Names);
        Assert.Equal(2, sharded.Shards.Count);
        Assert.Equal("41", source.Metadata["total_size"]);
        Assert.Equal([1f, 2, 3, 4], source.Get("a").ToFloat32());
        Assert.Equal([10L, 20, 30], source.Get("b").ToInt64());
        Assert.Equal([9L], source.Get("c").ToInt64());
        Assert.Equal(DType.U8, source.GetInfo("c").DType);
        Assert.True(source.Contains("b"));
        Assert.False(source.Contains("d"));
        Assert.Throws<KeyNotFoundException>(() => source.Get("d"));
        Assert.EndsWith("model-00002-of-00002.safetensors", sharded.GetShard("c").Path, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckpointOpensAnIndexFileOrAShardFileDirectly()
    {
        using var dir = new TempDirectory();
        WriteShards(dir);
        WriteIndex(dir, GoodMap());
        using (var viaIndex = SafeTensorsCheckpoint.Open(dir.File("model.safetensors.index.json")))
        {
            Assert.IsType<ShardedSafeTensors>(viaIndex);
        }

        using var single = SafeTensorsCheckpoint.Open(dir.File("model-00002-of-00002.safetensors"));
        Assert.Equal(["c"], single.Names);
    }

    [Fact]
    public void AFolderWithoutWeightsIsNotFound()
    {
        using var dir = new TempDirectory();
        Assert.Throws<FileNotFoundException>(() => SafeTensorsCheckpoint.Open(dir.Path));
        Assert.Throws<FileNotFoundException>(() => SafeTensorsCheckpoint.Open(dir.File("nothing")));
    }

    [Fact]
    public void MissingShardFileNamesTheIndex()
    {
        using var dir = new TempDirectory();
        WriteShards(dir);
        var map = GoodMap();
        map["c"] = "model-00003-of-00002.safetensors";
        WriteIndex(dir, map);
        var ex = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsCheckpoint.Open(dir.Path));
        Assert.Contains(dir.File("model.safetensors.index.json"), ex.Message, StringComparison.Ordinal);
        Assert.Contains("'model-00003-of-00002.safetensors' does not exist", ex.Message, StringComparison.Ordinal);
        Assert.Equal("c", ex.TensorName);
    }

    [Fact]
    public void TensorAbsentFromItsShardNamesTheIndexAndTheTensor()
    {
        using var dir = new TempDirectory();
        WriteShards(dir);
        var map = GoodMap();
        map["a"] = "model-00002-of-00002.safetensors";
        WriteIndex(dir, map);
        var ex = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsCheckpoint.Open(dir.Path));
        Assert.Contains("model.safetensors.index.json: tensor 'a': the weight map puts it in 'model-00002-of-00002.safetensors'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ShardOutsideTheFolderIsRefused()
    {
        using var dir = new TempDirectory();
        WriteShards(dir);
        var map = GoodMap();
        map["a"] = "../model-00001-of-00002.safetensors";
        WriteIndex(dir, map);
        var ex = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsCheckpoint.Open(dir.Path));
        Assert.Contains("outside", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[1, 2]", "not a JSON object")]
    [InlineData("{\"metadata\": {}}", "'weight_map' is missing")]
    [InlineData("{\"weight_map\": {\"a\": 3}}", "tensor 'a': the weight map's value is not a file name string")]
    [InlineData("{\"weight_map\": []}", "'weight_map' is not a JSON object")]
    public void MalformedIndexNamesTheFileAndTheProblem(string json, string problem)
    {
        using var dir = new TempDirectory();
        string index = dir.File("model.safetensors.index.json");
        File.WriteAllText(index, json);
        var ex = Assert.Throws<SafeTensorsFormatException>(() => ShardedSafeTensors.Open(index));
        Assert.StartsWith(index + ": ", ex.Message, StringComparison.Ordinal);
        Assert.Contains(problem, ex.Message, StringComparison.Ordinal);
    }
}
