using Candle.Compiler.Backends.Cpu.Emit;
using Candle.Compiler.Scheduling;
using Candle.Runtime.Plans;

namespace Candle.Compiler.Backends.Cpu;

/// <summary>
/// Rebuilds a CPU plan's generated kernels from the keys its kernel listing records, with this machine's widest
/// vectors, so that <see cref="Plan.Load(string, PlanLoadOptions)"/> with
/// <see cref="PlanLoadOptions.KernelGenerator"/> set to <see cref="Instance"/> never loads the code embedded in a plan
/// file. Every key is parsed and checked (dtypes, input references, op arities, argument order) before any IL is
/// emitted; the steps' arguments are checked by the plan verifier as for any plan.
/// </summary>
public sealed class CpuKernelGenerator : IKernelGenerator
{
    private const int MaxNameLength = 128;

    private CpuKernelGenerator()
    {
    }

    /// <summary>The generator.</summary>
    public static CpuKernelGenerator Instance { get; } = new();

    /// <inheritdoc />
    public string Target => "cpu-il";

    /// <inheritdoc />
    public byte[] Generate(IReadOnlyList<GeneratedKernelSpec> kernels)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        var module = new KernelModule();
        var lanes = ElementwiseEmitter.LanesFor(0);
        foreach (var kernel in kernels)
        {
            if (kernel.Name.Length is 0 or > MaxNameLength || !kernel.Name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
            {
                throw new PlanFormatException($"generated kernel name '{Printable(kernel.Name)}' is not 1 to {MaxNameLength} letters, digits or underscores");
            }

            Action<Emit.IlWriter> emit;
            try
            {
                if (kernel.Spec.StartsWith("bred ", StringComparison.Ordinal))
                {
                    var broadcast = ElementwiseSpecKey.ParseBroadcastReduction(kernel.Spec);
                    emit = il => BroadcastReductionEmitter.Emit(il, broadcast, lanes);
                }
                else if (kernel.Spec.StartsWith("red ", StringComparison.Ordinal))
                {
                    var reduction = ElementwiseSpecKey.ParseReduction(kernel.Spec);
                    emit = il => ReductionEmitter.Emit(il, reduction, lanes);
                }
                else
                {
                    var spec = ElementwiseSpecKey.Parse(kernel.Spec);
                    emit = il => ElementwiseEmitter.Emit(il, spec, lanes);
                }
            }
            catch (FormatException e)
            {
                throw new PlanFormatException($"generated kernel '{kernel.Name}': {e.Message}", e);
            }

            try
            {
                module.Add(kernel.Name, kernel.Spec, emit);
            }
            catch (Exception e) when (e is ArgumentException or NotSupportedException or InvalidOperationException)
            {
                throw new PlanFormatException($"generated kernel '{kernel.Name}': {e.Message}", e);
            }
        }

        var (bytes, _) = module.Build();
        return bytes ?? throw new PlanFormatException("the plan's listing names no generated kernels but its steps use some");
    }

    private static string Printable(string text) =>
        new(text.Take(MaxNameLength).Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
