using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;

namespace Candle.Cli.Commands;

/// <summary>Reads a training batch: <c>input_ids</c> and <c>labels</c> (labels default to the ids, as transformers' causal LM examples).</summary>
internal static class TrainingData
{
    public static Dictionary<string, HostTensor> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file");
        using var file = SafeTensorsFile.Open(path);
        if (!file.Names.Contains("input_ids")) throw new ArgumentException($"{path}: no tensor 'input_ids' (the file has {string.Join(", ", file.Names)})");
        var ids = file.Get("input_ids").Clone();
        var labels = file.Names.Contains("labels") ? file.Get("labels").Clone() : ids.Clone();
        if (ids.Shape.Count != 2 || !labels.ShapeArray().SequenceEqual(ids.ShapeArray()))
        {
            throw new ArgumentException($"{path}: input_ids and labels must both be [batch, seq], got [{string.Join(", ", ids.Shape)}] and [{string.Join(", ", labels.Shape)}]");
        }

        if (ids.DType.IsFloat() || labels.DType.IsFloat()) throw new ArgumentException($"{path}: input_ids and labels must be integer tensors");
        return new(StringComparer.Ordinal) { ["input_ids"] = ids.Cast(DType.I64), ["labels"] = labels.Cast(DType.I64) };
    }
}
