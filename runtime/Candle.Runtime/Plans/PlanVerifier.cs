using Candle.Runtime.Kernels.Cpu;

namespace Candle.Runtime.Plans;

/// <summary>
/// Checks a plan definition read from a file the way a bytecode verifier checks code, before any of it is used: every
/// header field in range (threads ≤ <see cref="PlanLoadOptions.MaxThreads"/>), every buffer record naming an input,
/// output or weight that exists, every tensor naming a buffer of its kind, every step naming a known runtime kernel or
/// a generated one, every symbol an expression mentions determined by the inputs' shapes, and every weight's buffer
/// exactly its data. Dimension expressions are bounded in length and nesting when parsed (<see cref="DimExpr"/>).
/// Each step's arguments are decoded through its kernel's argument record and its accesses checked against the bound
/// buffer sizes at each new binding (<see cref="StepAccess"/>).
/// </summary>
internal static class PlanVerifier
{
    private const int MaxArgs = 4096;
    private const int MaxNameLength = 4096;

    public static void Verify(string path, PlanDefinition def, (DType DType, int[] Shape, long Length)[] weights, PlanLoadOptions options)
    {
        if (def.Threads < 0 || def.Threads > options.MaxThreads)
        {
            throw Bad(path, $"thread count {def.Threads} is outside [0, {options.MaxThreads}]");
        }

        int nb = def.Buffers.Count, ns = def.Steps.Count;
        for (int i = 0; i < nb; i++)
        {
            var b = def.Buffers[i];
            int limit = b.Kind switch
            {
                BufferKind.Input => def.Inputs.Count,
                BufferKind.Output => def.Outputs.Count,
                BufferKind.Weight => weights.Length,
                _ => int.MaxValue,
            };
            if (b.Kind != BufferKind.Arena && (b.Index < 0 || b.Index >= limit)) throw Bad(path, $"buffer b{i} ({b.Kind}) has index {b.Index}, outside [0, {limit})");
            if (b.Kind == BufferKind.Arena && (b.FirstStep < 0 || b.LastStep < b.FirstStep || b.LastStep >= Math.Max(ns, 1)))
            {
                throw Bad(path, $"buffer b{i} lives from step {b.FirstStep} to {b.LastStep}, outside the plan's {ns} steps");
            }

            if (b.Kind == BufferKind.Weight)
            {
                var w = weights[b.Index];
                long elements = 1;
                foreach (int d in w.Shape) elements = d < 0 ? -1 : elements < 0 ? -1 : SaturatingMul(elements, d);
                if (elements < 0 || SaturatingMul(elements, w.DType.SizeInBytes()) != w.Length)
                {
                    throw Bad(path, $"weight {b.Index} has shape [{string.Join(", ", w.Shape)}] of {w.DType} but {w.Length} bytes of data");
                }

                if (!b.Bytes.IsConstant || b.Bytes.Value != w.Length)
                {
                    throw Bad(path, $"buffer b{i} declares {b.Bytes} bytes for weight {b.Index} of {w.Length} bytes");
                }
            }
        }

        var symbols = new HashSet<string>(def.Inputs.SelectMany(t => t.Shape).Where(d => d.SymbolName is not null).Select(d => d.SymbolName!), StringComparer.Ordinal);
        CheckTensors(path, def.Inputs, def.Buffers, "input", BufferKind.Input, symbols);
        CheckTensors(path, def.Outputs, def.Buffers, "output", null, symbols, def.Inputs);
        for (int i = 0; i < nb; i++) CheckSymbols(path, $"buffer b{i}", def.Buffers[i].Bytes, symbols);
        for (int s = 0; s < ns; s++)
        {
            var step = def.Steps[s];
            if (step.Label.Length > MaxNameLength) throw Bad(path, $"step {s} has a label of {step.Label.Length} characters");
            if (step.Args.Count > MaxArgs) throw Bad(path, $"step {s} ({step.Label}) has {step.Args.Count} arguments, more than {MaxArgs}");
            CheckKernel(path, s, step);
            foreach (var a in step.Args) CheckSymbols(path, $"step {s} ({step.Label})", a, symbols);
            CheckSymbols(path, $"step {s} ({step.Label})", step.Work, symbols);
            CheckSymbols(path, $"step {s} ({step.Label})", step.CostPerItem, symbols);
        }
    }

    private static void CheckTensors(
        string path, IReadOnlyList<PlanTensor> tensors, IReadOnlyList<PlanBuffer> buffers, string what, BufferKind? kind, HashSet<string> symbols, IReadOnlyList<PlanTensor>? inputs = null)
    {
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            if (t.Name.Length > MaxNameLength) throw Bad(path, $"{what} {i} has a name of {t.Name.Length} characters");
            if (t.Buffer < 0 || t.Buffer >= buffers.Count) throw Bad(path, $"{what} '{t.Name}' names buffer b{t.Buffer}, which does not exist");
            var b = buffers[t.Buffer];
            if (kind is { } k && (b.Kind != k || b.Index != i)) throw Bad(path, $"{what} '{t.Name}' names buffer b{t.Buffer}, which is not {what} {i}");
            if (kind is null && !((b.Kind == BufferKind.Output && b.Index == i) || b.Kind == BufferKind.Input))
            {
                throw Bad(path, $"{what} '{t.Name}' names buffer b{t.Buffer} ({b.Kind} {b.Index}), which is neither output {i} nor an input it updates");
            }

            if (kind is null && b.Kind == BufferKind.Input && inputs is not null && b.Index >= 0 && b.Index < inputs.Count
                && (inputs[b.Index].DType != t.DType || inputs[b.Index].ShapeText != t.ShapeText))
            {
                throw Bad(path, $"{what} '{t.Name}' ({t.DType}{t.ShapeText}) is written into input '{inputs[b.Index].Name}' ({inputs[b.Index].DType}{inputs[b.Index].ShapeText}) of another type");
            }
            foreach (var d in t.Shape) CheckSymbols(path, $"{what} '{t.Name}'", d, symbols);
        }
    }

    private static void CheckKernel(string path, int s, PlanStep step)
    {
        string name = step.Kernel;
        if (name.Length > MaxNameLength) throw Bad(path, $"step {s} names a kernel of {name.Length} characters");
        int at = name.IndexOf('@', StringComparison.Ordinal);
        string main = at < 0 ? name : name[..at];
        if (main.StartsWith("rt:", StringComparison.Ordinal))
        {
            if (!RuntimeKernels.Names.Contains(main[3..], StringComparer.Ordinal)) throw Bad(path, $"step {s} ({step.Label}) names unknown runtime kernel '{main}'");
            if (at >= 0 && (RuntimeKernels.GetPreparer(main[3..]) is null || !IsEpilogue(name[(at + 1)..])))
            {
                throw Bad(path, $"step {s} ({step.Label}): kernel '{main}' takes no epilogue '{name[(at + 1)..]}'");
            }
        }
        else if (at >= 0 || !IsGenerated(main))
        {
            throw Bad(path, $"step {s} ({step.Label}) names unknown kernel '{name}'");
        }
    }

    // An epilogue is a generated kernel or the interpreted form of one.
    private static bool IsEpilogue(string name) => IsGenerated(name) || name == Kernels.Cpu.Args.InterpretedArgs.Kernel;

    private static bool IsGenerated(string name) =>
        name.StartsWith("gen:", StringComparison.Ordinal) && name.Length > 4 && name.Skip(4).All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    private static void CheckSymbols(string path, string what, DimExpr e, HashSet<string> symbols)
    {
        foreach (string sym in e.Symbols)
        {
            if (!symbols.Contains(sym)) throw Bad(path, $"{what} uses symbol '{sym}', which no input's shape determines");
        }
    }

    private static long SaturatingMul(long a, long b) => b != 0 && a > long.MaxValue / b ? long.MaxValue : a * b;

    private static PlanFormatException Bad(string path, string problem) => new($"{path}: {problem}");
}
