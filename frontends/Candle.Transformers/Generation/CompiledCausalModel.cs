using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Generation;

/// <summary>
/// The shape of a causal LM whose prefill and decode steps were compiled and saved (<see cref="CompiledLanguageModel"/>):
/// what a <see cref="DecoderSession"/> needs to size its cache and read the plans' outputs, without weights or code to
/// trace.
/// </summary>
internal sealed class CompiledCausalModel(HfConfig config, CompiledLanguageModel.Manifest manifest) : ICausalLanguageModel
{
    public HfConfig Config { get; } = config;

    public string ModelType => manifest.ModelType;

    public int NumLayers => manifest.NumLayers;

    public int NumKvHeads => manifest.NumKvHeads;

    public int HeadDim => manifest.HeadDim;

    public int VocabSize => manifest.VocabSize;

    public int MaxPositions => manifest.MaxPositions;

    public DType DType => manifest.DType;

    public IReadOnlyList<int> EosTokenIds => manifest.EosTokenIds;

    public Graph TraceForward() => throw NotTraceable();

    public Graph TracePrefill() => throw NotTraceable();

    public Graph TraceForwardWithAttentionMask() => throw NotTraceable();

    public Graph TraceDecode() => throw NotTraceable();

    public HostTensor? DefaultInput(string name, IReadOnlyDictionary<string, HostTensor> given) => null;

    private static NotSupportedException NotTraceable() =>
        new("a compiled model holds its compiled prefill and decode plans only; trace the Hugging Face model it was compiled from");
}
