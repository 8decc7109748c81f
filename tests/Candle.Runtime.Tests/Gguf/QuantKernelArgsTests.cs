using Candle.Runtime.Kernels.Cpu.Args;
using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Plans;

namespace Candle.Runtime.Tests.Gguf;

/// <summary>The argument records of the quantized kernels reject malformed steps and describe the bytes they touch.</summary>
public sealed class QuantKernelArgsTests
{
    [Fact]
    public void Malformed_quant_matmul_arguments_are_rejected_by_field()
    {
        Assert.Contains("ggml type", Assert.Throws<PlanFormatException>(() => QuantMatMulArgs.Decode([0, 1, 2, 16, 1, 4, 256])).Message, StringComparison.Ordinal);
        Assert.Contains("256-value", Assert.Throws<PlanFormatException>(() => QuantMatMulArgs.Decode([0, 1, 2, (long)GgmlType.Q4_K, 1, 4, 64])).Message, StringComparison.Ordinal);
        Assert.Contains("rows", Assert.Throws<PlanFormatException>(() => QuantMatMulArgs.Decode([0, 1, 2, (long)GgmlType.Q8_0, -1, 4, 64])).Message, StringComparison.Ordinal);
        Assert.Contains("arguments", Assert.Throws<PlanFormatException>(() => QuantMatMulArgs.Decode([0, 1, 2])).Message, StringComparison.Ordinal);
        Assert.Contains("index dtype", Assert.Throws<PlanFormatException>(() => QuantEmbeddingArgs.Decode([0, 1, 99, 2, (long)GgmlType.Q8_0, 4, 64, 3])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Quant_matmul_touches_exactly_its_operands()
    {
        // 3 rows of x [3, 64], w [5, 64] in Q4_0 (2 blocks of 18 bytes per row), y [3, 5].
        var extents = QuantMatMulArgs.Accesses(QuantMatMulArgs.Decode([0, 1, 2, (long)GgmlType.Q4_0, 3, 5, 64]), 1).ToList();
        Assert.Contains(new StepExtent(0, 0, 3 * 64 * 4, false), extents);
        Assert.Contains(new StepExtent(1, 0, 5 * 2 * 18, false), extents);
        Assert.Contains(new StepExtent(2, 0, 3 * 5 * 4, true), extents);
        Assert.Throws<PlanFormatException>(() => QuantMatMulArgs.Accesses(QuantMatMulArgs.Decode([0, 1, 2, (long)GgmlType.Q4_0, 3, 5, 64]), 5).ToList());
    }
}
