using System.Text.Json.Nodes;
using Candle.Runtime.Weights.Gguf;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Tests;
using Candle.Transformers.Models;
using Candle.Transformers.Tests.Gguf;
using CsCheck;

namespace Candle.Transformers.Tests.Safety;

/// <summary>
/// Standing fuzz tests of the config consumers: random mutations of the reference configs (and of GGUF metadata) end
/// in a model that loads or in a clear one-line exception naming the file, never another exception type, and within
/// a memory bound. Fixed seed by default; CANDLE_FUZZ_ITERATIONS=N runs longer (see <see cref="FuzzSettings"/>).
/// </summary>
public sealed class ConfigFuzzTests : IDisposable
{
    private const long AllocationBound = 512L << 20;
    private readonly TempDir _tmp = new();
    private int _loaded;
    private int _rejected;

    public void Dispose() => _tmp.Dispose();

    private static readonly Gen<JsonNode?> HostileValue = Gen.OneOf(
        Gen.OneOf<long>(0, -1, 1, 2, 3, 7, int.MaxValue, (long)int.MaxValue + 1, 4294967297L, 1_000_000_000L, long.MaxValue, long.MinValue)
            .Select(v => (JsonNode?)JsonValue.Create(v)),
        Gen.OneOf(0.0, -1e-5, 1e-300, 0.5, 2.5, 1e300, -1e300, 1e19).Select(v => (JsonNode?)JsonValue.Create(v)),
        Gen.OneOf("", "x", "gelu", "default", "llama3", "sliding_attention", "\u001b[31m").Select(v => (JsonNode?)JsonValue.Create(v)),
        Gen.Bool.Select(v => (JsonNode?)JsonValue.Create(v)),
        Gen.Const(() => (JsonNode?)null),
        Gen.Int[-2, 600].Array[0, 4].Select(a => (JsonNode?)new JsonArray([.. a.Select(v => (JsonNode?)JsonValue.Create(v))])),
        Gen.Const(() => (JsonNode?)new JsonObject { ["rope_type"] = "yarn", ["factor"] = 0.0 }));

    private static void Check(Func<object> load, string file, ref int loaded, ref int rejected)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            _ = load();
            Interlocked.Increment(ref loaded);
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException or GgufFormatException or SafeTensorsFormatException or Torch.Nn.StateDictException)
        {
            Assert.DoesNotContain('\n', e.Message);
            Assert.Contains(file, e.Message, StringComparison.Ordinal);
            Interlocked.Increment(ref rejected);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < AllocationBound, $"allocated {allocated} bytes");
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    [InlineData("bert")]
    [InlineData("whisper")]
    public void Mutated_configs_load_or_fail_with_a_clear_error(string model)
    {
        string source = Fixtures.Model(model);
        var original = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "config.json")))!.AsObject();
        string[] keys = [.. original.Select(p => p.Key).Where(k => k != "model_type")];
        var edit = Gen.Select(Gen.Int[0, keys.Length - 1], HostileValue, Gen.Int[0, 5]);
        edit.Array[1, 3].Sample(
            edits =>
            {
                string dir = Path.Combine(_tmp.Path, Guid.NewGuid().ToString("N"));
                Directory.CreateDirectory(dir);
                var config = original.DeepClone().AsObject();
                foreach (var (k, value, how) in edits)
                {
                    if (how == 0) config.Remove(keys[k]);
                    else config[keys[k]] = value?.DeepClone();
                }

                File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
                File.CreateSymbolicLink(Path.Combine(dir, "model.safetensors"), Path.Combine(source, "model.safetensors"));
                try
                {
                    Check(() => ModelRegistry.Load(dir), dir, ref _loaded, ref _rejected);
                }
                finally
                {
                    Directory.Delete(dir, recursive: true);
                }
            },
            seed: FuzzSettings.Seed,
            iter: FuzzSettings.Iterations(25),
            threads: 1);
        Assert.True(_rejected > 0, "no mutation was rejected");
    }

    [Fact]
    public void Mutated_gguf_metadata_loads_or_fails_with_a_clear_error()
    {
        var settings =
            from layers in Gen.OneOf(0, 1, 2, 3, 1_000_000_000, int.MaxValue)
            from hidden in Gen.OneOf(0, 255, 256, 512, int.MaxValue)
            from heads in Gen.OneOf(0, 3, 8, 16)
            from kvHeads in Gen.OneOf(0, 3, 4, 8)
            from context in Gen.OneOf(0, 1, 256, int.MaxValue)
            from eps in Gen.OneOf(1e-5f, 0f, -1f, float.NaN, float.PositiveInfinity)
            from theta in Gen.OneOf(10000f, 0f, -5f, float.NaN, 1e38f)
            from eos in Gen.OneOf(2UL, 511UL, 512UL, ulong.MaxValue)
            select new HfToGguf.Settings(layers, hidden, 768, heads, kvHeads, context, eps, theta, eos);
        using var source = SafeTensorsCheckpoint.Open(Reference.Load("llama").Dir);
        settings.Sample(
            s =>
            {
                string path = _tmp.File(Guid.NewGuid().ToString("N") + ".gguf");
                try
                {
                    HfToGguf.Writer(source, s).Write(path);
                }
                catch (Exception e) when (e is DivideByZeroException or ArgumentException)
                {
                    // The test's writer permutes Q/K rows by the head counts and derives rope.dimension_count from them.
                    return;
                }

                try
                {
                    Check(() => ModelRegistry.Load(path), path, ref _loaded, ref _rejected);
                }
                finally
                {
                    File.Delete(path);
                }
            },
            seed: FuzzSettings.Seed,
            iter: FuzzSettings.Iterations(20),
            threads: 1);
        Assert.True(_rejected > 0, "no mutation was rejected");
    }
}
