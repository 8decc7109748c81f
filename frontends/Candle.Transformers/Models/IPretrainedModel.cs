using Candle.Compiler.Ir;

namespace Candle.Transformers.Models;

/// <summary>
/// A model loaded from a Hugging Face directory. Its forward pass traces into one graph whose inputs and
/// outputs carry transformers' names (<c>input_ids</c>, <c>attention_mask</c>, <c>logits</c>,
/// <c>last_hidden_state</c>...), with symbolic batch and sequence dims, so any backend can compile it once.
/// </summary>
public interface IPretrainedModel
{
    /// <summary>The config the model was built from.</summary>
    HfConfig Config { get; }

    /// <summary>The <c>model_type</c> (llama, gpt2, bert...).</summary>
    string ModelType { get; }

    /// <summary>The forward pass as a graph (inputs and outputs named as transformers names them).</summary>
    Graph TraceForward();

    /// <summary>
    /// A value for an optional input the caller did not give (e.g. an all-ones <c>attention_mask</c>), given the
    /// tensors that were given; null when the input is required.
    /// </summary>
    Runtime.Tensors.HostTensor? DefaultInput(string name, IReadOnlyDictionary<string, Runtime.Tensors.HostTensor> given);
}
