using System.Text.Json;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Tests;

namespace Candle.Transformers.Tests;

/// <summary>The outputs transformers computed for a reference model (tests/fixtures/refs/NAME).</summary>
internal sealed class Reference
{
    private Reference(string name)
    {
        Dir = Fixtures.Model(name);
        using var file = SafeTensorsFile.Open(Path.Combine(Dir, "reference.safetensors"));
        Tensors = file.Names.ToDictionary(n => n, n => file.Get(n).Clone());
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "reference.json")));
        PromptIds = [.. doc.RootElement.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32())];
        GreedyContinuation = [.. doc.RootElement.GetProperty("greedy_continuation").EnumerateArray().Select(e => e.GetInt32())];
    }

    public string Dir { get; }

    public Dictionary<string, HostTensor> Tensors { get; }

    public int[] PromptIds { get; }

    public int[] GreedyContinuation { get; }

    public static Reference Load(string name) => new(name);
}
