using Candle.Runtime.Tensors;

namespace Candle.Runtime.Execution;

/// <summary>
/// Something that maps named input tensors to named output tensors: a compiled plan, or a graph bound to
/// the reference interpreter. Implementations are safe to call from many threads at once. Disposing releases what
/// the executable holds (pinned weights, worker threads, device memory).
/// </summary>
public interface IExecutable : IDisposable
{
    /// <summary>Input names, in calling order.</summary>
    IReadOnlyList<string> InputNames { get; }

    /// <summary>Output names, in result order.</summary>
    IReadOnlyList<string> OutputNames { get; }

    /// <summary>Runs once; symbolic dimensions are bound from the input shapes.</summary>
    /// <exception cref="ArgumentException">An input has the wrong count, dtype or shape (the message names it).</exception>
    HostTensor[] Run(IReadOnlyList<HostTensor> inputs);
}
