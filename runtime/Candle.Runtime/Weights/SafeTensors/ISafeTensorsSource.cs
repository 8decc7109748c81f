using Candle.Runtime.Tensors;

namespace Candle.Runtime.Weights.SafeTensors;

/// <summary>
/// A set of named tensors read from safetensors storage: one file (<see cref="SafeTensorsFile"/>) or a sharded
/// checkpoint (<see cref="ShardedSafeTensors"/>). <see cref="SafeTensorsCheckpoint.Open"/> picks the right one.
/// </summary>
public interface ISafeTensorsSource : IDisposable
{
    /// <summary>The tensor names.</summary>
    IReadOnlyList<string> Names { get; }

    /// <summary>Free-form string metadata (a file's <c>__metadata__</c>, an index's <c>metadata</c>); empty when absent.</summary>
    IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>True when a tensor of that name exists.</summary>
    bool Contains(string name);

    /// <summary>The dtype, shape and location of a tensor.</summary>
    /// <exception cref="KeyNotFoundException">No tensor has that name; the message names the file and the tensor.</exception>
    TensorInfo GetInfo(string name);

    /// <summary>A zero-copy view of a tensor's bytes in the memory-mapped file.</summary>
    /// <exception cref="KeyNotFoundException">No tensor has that name; the message names the file and the tensor.</exception>
    HostTensor Get(string name);
}
