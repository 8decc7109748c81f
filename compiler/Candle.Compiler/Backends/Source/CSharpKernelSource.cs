using System.Globalization;
using Candle.Compiler.Scheduling;
using Candle.Runtime.Plans;

namespace Candle.Compiler.Backends.Source;

/// <summary>
/// A CPU plan's generated kernels as readable C# source (<c>candle compile --emit csharp</c>). The source declares
/// <see cref="Plan.GeneratedKernelsType"/> with one method per generated kernel, each rendered from the kernel's
/// specification in the plan's listing by the C# renderer of the C-style renderer family; a header comment lists the
/// plan's inputs, outputs and steps. Compiled against <c>Candle.Runtime</c> (with unsafe code allowed), the
/// assembly replaces the plan's generated IL (<see cref="PlanLoadOptions.KernelGenerator"/>, or
/// <see cref="Plan(PlanDefinition, KernelPayload?, IReadOnlyList{Runtime.Tensors.HostTensor})"/> with an
/// <see cref="IlKernelPayload"/>) and computes the same bits.
/// </summary>
public static class CSharpKernelSource
{
    /// <summary>Renders the generated kernels of <paramref name="plan"/> as C# source.</summary>
    /// <param name="plan">A plan compiled for the CPU with generated kernels.</param>
    /// <returns>One C# file.</returns>
    /// <exception cref="ArgumentException">The plan has no generated kernels (compiled without code generation), or a kernel's specification cannot be rendered.</exception>
    public static string Render(Plan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var specs = KernelListing.Specs("plan", plan.KernelDump);
        if (specs.Count == 0)
        {
            throw new ArgumentException("the plan has no generated kernels (it was compiled without code generation, e.g. with --no-codegen): there is no kernel source to emit", nameof(plan));
        }

        var kernels = new List<(string Name, ElementwiseSpec Spec)>(specs.Count);
        var reductions = new List<(string Name, ReductionSpec Spec)>();
        var broadcastReductions = new List<(string Name, BroadcastReductionSpec Spec)>();
        foreach (var s in specs)
        {
            try
            {
                if (s.Spec.StartsWith("bred ", StringComparison.Ordinal)) broadcastReductions.Add((s.Name, ElementwiseSpecKey.ParseBroadcastReduction(s.Spec)));
                else if (s.Spec.StartsWith("red ", StringComparison.Ordinal)) reductions.Add((s.Name, ElementwiseSpecKey.ParseReduction(s.Spec)));
                else kernels.Add((s.Name, ElementwiseSpecKey.Parse(s.Spec)));
            }
            catch (FormatException e)
            {
                throw new ArgumentException($"generated kernel '{s.Name}': {e.Message}", nameof(plan), e);
            }
        }

        var def = plan.Definition;
        var inv = CultureInfo.InvariantCulture;
        var preamble = new List<string>
        {
            "Generated elementwise kernels and reductions of a Candle.Compiler plan, rendered from the kernel IR as C#.",
            "Compile against Candle.Runtime with unsafe code allowed; the assembly replaces the plan's generated IL",
            "(PlanLoadOptions.KernelGenerator returning its bytes) and computes the same bits.",
            "",
            string.Create(inv, $"inputs: {string.Join(", ", plan.InputMetadata)}"),
            string.Create(inv, $"outputs: {string.Join(", ", plan.OutputNames)}"),
            string.Create(inv, $"steps ({def.Steps.Count}):"),
        };
        for (int i = 0; i < def.Steps.Count; i++)
        {
            var step = def.Steps[i];
            preamble.Add(string.Create(inv, $"  {i,4}  {step.Kernel}{(step.Label.Length == 0 ? "" : "  " + step.Label)}"));
        }

        try
        {
            return new CSharpRenderer { Preamble = preamble }.Render(kernels, reductions, broadcastReductions, LanesOf(plan.KernelDump));
        }
        catch (NotSupportedException e)
        {
            throw new ArgumentException(e.Message, nameof(plan), e);
        }
    }

    /// <summary>The vector width in floats of a plan's IL kernels (from the lanes its listing calls), which a reduction's accumulation order follows.</summary>
    private static int LanesOf(string dump) =>
        dump.Contains("Lanes512", StringComparison.Ordinal) ? 16 : dump.Contains("Lanes256", StringComparison.Ordinal) ? 8 : dump.Contains("Lanes128", StringComparison.Ordinal) ? 4 : 1;
}
