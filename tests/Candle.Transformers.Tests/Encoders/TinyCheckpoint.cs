using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;

namespace Candle.Transformers.Tests.Encoders;

/// <summary>A random-weight Hugging Face directory written to a temporary folder (deleted on dispose).</summary>
internal sealed class TinyCheckpoint : IDisposable
{
    private readonly Random _rng;

    public TinyCheckpoint(int seed) => _rng = new Random(seed);

    public string Dir { get; } = Directory.CreateTempSubdirectory("candle-encoders-").FullName;

    public Dictionary<string, HostTensor> Tensors { get; } = new(StringComparer.Ordinal);

    public float[] Add(string name, float scale, params int[] shape)
    {
        int n = shape.Aggregate(1, (a, b) => a * b);
        var data = new float[n];
        for (int i = 0; i < n; i++) data[i] = scale * (float)((_rng.NextDouble() * 2) - 1);
        Tensors[name] = HostTensor.FromArray(data, shape);
        return data;
    }

    public float[] AddNorm(string prefix, int d)
    {
        var g = Add(prefix + ".weight", 0.2f, d);
        for (int i = 0; i < d; i++) g[i] += 1;
        Add(prefix + ".bias", 0.1f, d);
        return g;
    }

    public float[] Get(string name) => Tensors[name].ToFloat32();

    public string Write(string configJson)
    {
        File.WriteAllText(Path.Combine(Dir, "config.json"), configJson);
        SafeTensorsWriter.Write(Path.Combine(Dir, "model.safetensors"), Tensors);
        return Dir;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
