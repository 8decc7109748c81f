using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Torch;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;
using Candle.Transformers.Models.Llama;

namespace Candle.Perf.LlamaLayer;

/// <summary>
/// One Llama decoder layer in TinyLlama-1.1B's shape, traced from the model code: a one-layer random checkpoint is
/// written to a temporary directory, loaded with <see cref="ModelRegistry.Load"/>, and its layer 0 (with the rotary
/// tables computed from positions 0..seq-1 and causal attention, no KV cache) is traced over
/// <c>hidden</c> f32[1, seq, 2048] → <c>out</c> f32[1, seq, 2048].
/// </summary>
public static class LlamaLayerGraph
{
    public const string SeqSymbol = "seq";

    private static readonly Lazy<Graph> s_graph = new(Build);

    /// <summary>The traced layer (built once per process).</summary>
    public static Graph Graph => s_graph.Value;

    private static Graph Build()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"candle-perf-llama-layer-{Environment.ProcessId}");
        try
        {
            TinyLlamaCheckpoint.Write(dir, layers: 1, vocab: 256);
            var lm = (LlamaForCausalLM)ModelRegistry.Load(dir);
            var layer = lm.Model.Layers[0];
            var rope = lm.Model.RotaryEmb;
            return Tracer.Trace(
                lm,
                xs =>
                {
                    var positions = Tensors.Arange(xs[0].Shape[1]).Unsqueeze(0);
                    var (cos, sin) = rope.Forward(positions, xs[0].DType);
                    return [layer.Forward(xs[0], rope, cos, sin, null, CacheStep.None(1))];
                },
                [new TraceInput("hidden", DType.F32, 1, SeqSymbol, TinyLlamaCheckpoint.Hidden)],
                ["out"]);
        }
        finally
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // The weights may still be mapped; the temporary directory is left behind.
            }
        }
    }
}
