using Candle.Compiler.Scheduling;

namespace Candle.Compiler.Backends.Source;

/// <summary>
/// Renders generated elementwise kernels as C99: each kernel is
/// <c>void name(uint8_t** slots, const int64_t* args, int64_t start, int64_t end)</c> with C linkage, the meaning of
/// <c>Candle.Runtime.Kernels.Cpu.KernelFn</c>: <c>slots</c> are the buffer addresses, <c>args</c> the step's
/// arguments in the IL kernels' order, and the kernel writes the output elements [start, end).
/// </summary>
internal sealed class CRenderer : CStyleRenderer
{
    /// <inheritdoc/>
    public override string TargetName => "C";

    /// <inheritdoc/>
    protected override string Header => """
        #include <math.h>
        #include <stdint.h>
        #include <string.h>

        #pragma STDC FP_CONTRACT OFF

        #if defined(_WIN32)
        #define CD_EXPORT __declspec(dllexport)
        #else
        #define CD_EXPORT __attribute__((visibility("default")))
        #endif

        #if defined(__GNUC__) || defined(__clang__)
        #define CD_HELPER static inline __attribute__((unused))
        #else
        #define CD_HELPER static inline
        #endif

        #ifdef __cplusplus
        #define CD_LINKAGE extern "C"
        #else
        #define CD_LINKAGE
        #endif

        CD_HELPER uint32_t cd_as_uint(float f) { uint32_t u; memcpy(&u, &f, sizeof u); return u; }

        CD_HELPER float cd_as_float(uint32_t u) { float f; memcpy(&f, &u, sizeof f); return f; }

        """;

    /// <inheritdoc/>
    protected override string HelperQualifiers => "CD_HELPER";

    /// <inheritdoc/>
    protected override string FunctionHead(string name, ElementwiseSpec spec) =>
        $"CD_LINKAGE CD_EXPORT void {name}(uint8_t** slots, const int64_t* args, int64_t start, int64_t end)";

    /// <inheritdoc/>
    protected override string SlotAddress(int argIndex) => $"slots[args[{argIndex}]]";

    /// <inheritdoc/>
    protected override string Argument(int index) => $"args[{index}]";

    /// <inheritdoc/>
    protected override string OpenIndexRange(ElementwiseSpec spec) => $"    for ({IndexType} {IndexVariable} = start; {IndexVariable} < end; {IndexVariable}++)\n    {{\n";

    /// <inheritdoc/>
    protected override string CloseIndexRange() => "    }\n";

    /// <inheritdoc/>
    protected override string FloatBits(string x) => $"cd_as_uint({x})";

    /// <inheritdoc/>
    protected override string BitsFloat(string x) => $"cd_as_float({x})";

    /// <inheritdoc/>
    protected override string RowFunctionHead(string name) => FunctionHead(name, null!);

    /// <inheritdoc/>
    protected override string OpenRows() => "    for (int64_t row = start; row < end; row++)\n    {\n";

    /// <inheritdoc/>
    protected override string CloseRows() => "    }\n";

    /// <inheritdoc/>
    protected override string RowLoop() => "for (int64_t j = 0; j < n; j++)";

    /// <inheritdoc/>
    protected override string AllReduce(string acc, Combine combine) => "";

    /// <inheritdoc/>
    protected override string SingleWriter => "1";
}
