using System.Globalization;
using System.Reflection;
using System.Reflection.Emit;
using System.Text;

namespace Candle.Compiler.Backends.Cpu.Emit;

/// <summary>An <see cref="ILGenerator"/> wrapper that also records a readable listing of what it emits.</summary>
internal sealed class IlWriter(ILGenerator il, StringBuilder listing)
{
    private readonly Dictionary<Label, string> _labels = [];
    private int _locals;

    public LocalBuilder Local(Type type, string name)
    {
        var l = il.DeclareLocal(type);
        listing.Append(CultureInfo.InvariantCulture, $"  .local {l.LocalIndex} {TypeName(type)} {name}").AppendLine();
        _locals++;
        return l;
    }

    public Label DefineLabel(string name)
    {
        var l = il.DefineLabel();
        _labels[l] = name;
        return l;
    }

    public void Mark(Label l)
    {
        il.MarkLabel(l);
        listing.Append(_labels[l]).AppendLine(":");
    }

    public void Op(OpCode op)
    {
        il.Emit(op);
        Line(op.Name!);
    }

    public void Op(OpCode op, int arg)
    {
        il.Emit(op, arg);
        Line($"{op.Name} {arg.ToString(CultureInfo.InvariantCulture)}");
    }

    public void Op(OpCode op, long arg)
    {
        il.Emit(op, arg);
        Line($"{op.Name} {arg.ToString(CultureInfo.InvariantCulture)}");
    }

    public void Op(OpCode op, float arg)
    {
        il.Emit(op, arg);
        Line($"{op.Name} {arg.ToString("R", CultureInfo.InvariantCulture)}");
    }

    public void Op(OpCode op, Label target)
    {
        il.Emit(op, target);
        Line($"{op.Name} {_labels[target]}");
    }

    public void Op(OpCode op, LocalBuilder local)
    {
        il.Emit(op, local);
        Line($"{op.Name} {local.LocalIndex.ToString(CultureInfo.InvariantCulture)}");
    }

    public void Call(MethodInfo m)
    {
        il.Emit(OpCodes.Call, m);
        string typeArgs = m.IsGenericMethod ? $"<{string.Join(", ", m.GetGenericArguments().Select(TypeName))}>" : "";
        Line($"call {TypeName(m.ReturnType)} {TypeName(m.DeclaringType!)}::{m.Name}{typeArgs}({string.Join(", ", m.GetParameters().Select(p => TypeName(p.ParameterType)))})");
    }

    /// <summary>Pushes a 32-bit integer with the shortest encoding.</summary>
    public void Int(int v)
    {
        switch (v)
        {
            case >= -1 and <= 8:
                Op(v switch
                {
                    -1 => OpCodes.Ldc_I4_M1,
                    0 => OpCodes.Ldc_I4_0,
                    1 => OpCodes.Ldc_I4_1,
                    2 => OpCodes.Ldc_I4_2,
                    3 => OpCodes.Ldc_I4_3,
                    4 => OpCodes.Ldc_I4_4,
                    5 => OpCodes.Ldc_I4_5,
                    6 => OpCodes.Ldc_I4_6,
                    7 => OpCodes.Ldc_I4_7,
                    _ => OpCodes.Ldc_I4_8,
                });
                break;
            case >= sbyte.MinValue and <= sbyte.MaxValue:
                il.Emit(OpCodes.Ldc_I4_S, (sbyte)v);
                Line($"ldc.i4.s {v.ToString(CultureInfo.InvariantCulture)}");
                break;
            default:
                Op(OpCodes.Ldc_I4, v);
                break;
        }
    }

    private void Line(string text) => listing.Append("  ").AppendLine(text);

    private static string TypeName(Type t) => t.IsGenericType
        ? $"{t.Name[..t.Name.IndexOf('`', StringComparison.Ordinal)]}<{string.Join(", ", t.GetGenericArguments().Select(TypeName))}>"
        : t == typeof(void) ? "void" : t == typeof(float) ? "float32" : t == typeof(long) ? "int64" : t == typeof(int) ? "int32"
        : t == typeof(nint) ? "native int" : t == typeof(byte*) ? "uint8*" : t.Name;
}
