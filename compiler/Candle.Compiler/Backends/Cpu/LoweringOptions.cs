namespace Candle.Compiler.Backends.Cpu;

/// <summary>How a kernel graph is turned into a CPU plan.</summary>
/// <param name="Threads">Worker threads of the plan (0: the shared pool, 1: single-threaded, n: a pool of n).</param>
/// <param name="VectorBits">Vector width of generated kernels (0: widest accelerated).</param>
/// <param name="OptLevel">The opt level the graph was optimized at; from 2 constant matmul weights are pre-packed.</param>
/// <param name="GenerateKernels">Whether elementwise kernels are generated as IL; when false they run in the runtime's interpreter (<c>rt:fused</c>).</param>
internal sealed record LoweringOptions(int Threads, int VectorBits, int OptLevel, bool GenerateKernels = true)
{
    /// <summary>Whether constant float32 matmul weights are packed into GEMM panels when the plan is created.</summary>
    public bool PrepackWeights => OptLevel >= 2;
}
