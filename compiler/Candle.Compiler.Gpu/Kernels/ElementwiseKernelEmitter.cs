using System.Globalization;
using System.Reflection;
using System.Reflection.Emit;
using System.Text;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// Renders kernel IR (<see cref="ElementwiseSpec"/>) to ILGPU kernels: one public static method per distinct spec on
/// one type of a <see cref="PersistedAssemblyBuilder"/> assembly (ILGPU reads a method's IL from a loaded assembly;
/// it cannot compile a <c>DynamicMethod</c>). Each kernel is implicitly grouped over the flat output index and takes
/// <c>(Index1D i, ArrayView out, ArrayView in[n], long shape[rank], then per input long offset, long strides[rank],
/// then ArrayView also[s])</c>, the last the dense further outputs of a multi-output spec (<see cref="ElementwiseSpec.Stores"/>);
/// loads, stores and every op are calls of <see cref="GpuMath"/>, which ILGPU inlines.
/// </summary>
internal sealed class ElementwiseKernelEmitter
{
    /// <summary>The name of the type that holds the generated kernels.</summary>
    public const string KernelsType = "Candle.GpuKernels";

    private readonly PersistedAssemblyBuilder _assembly;
    private readonly TypeBuilder _type;
    private readonly Dictionary<string, string> _byKey = new(StringComparer.Ordinal);
    private readonly StringBuilder _dump = new();
    private readonly int _unrollBy;
    private Type? _built;

    /// <summary>
    /// An emitter of a new kernel assembly; with <paramref name="unrollBy"/> above 0, every spec's flat kernel also has
    /// its form of that many blocks a grid-stride step (<see cref="FlatUnrolledBy"/>).
    /// </summary>
    public ElementwiseKernelEmitter(int unrollBy = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(unrollBy);
        _unrollBy = unrollBy;
        string name = "Candle.GpuKernels." + Guid.NewGuid().ToString("N");
        _assembly = new PersistedAssemblyBuilder(new AssemblyName(name), typeof(object).Assembly);
        var module = _assembly.DefineDynamicModule(name);
        _type = module.DefineType(KernelsType, TypeAttributes.Public | TypeAttributes.Sealed | TypeAttributes.Abstract | TypeAttributes.Class);
    }

    /// <summary>A readable listing of the emitted kernels (their keys and IL), for dumps.</summary>
    public string Dump => _dump.ToString();

    /// <summary>The ILGPU view element type that stores <paramref name="dtype"/>.</summary>
    /// <exception cref="NotSupportedException">The dtype is outside the generated kernels' float domain.</exception>
    public static Type StorageType(DType dtype) => dtype switch
    {
        DType.F32 => typeof(float),
        DType.F16 or DType.BF16 => typeof(ushort),
        DType.Bool => typeof(byte),
        _ => throw new NotSupportedException($"generated GPU kernels do not store {dtype.TorchName()}"),
    };

    /// <summary>The kernel's parameter types after the index.</summary>
    public static Type[] ParameterTypes(ElementwiseSpec spec)
    {
        var p = new List<Type> { typeof(Index1D), ViewOf(spec.OutDType) };
        p.AddRange(spec.Inputs.Select(i => ViewOf(i.DType)));
        for (int d = 0; d < spec.Rank; d++) p.Add(typeof(long));
        for (int k = 0; k < spec.Inputs.Count; k++)
        {
            for (int d = 0; d <= spec.Rank; d++) p.Add(typeof(long));
        }

        p.AddRange(spec.Stores.Select(s => ViewOf(s.DType)));
        return [.. p];
    }

    /// <summary>The suffix of a general kernel's 32-bit variant (specs of rank 2 and more).</summary>
    public const string NarrowSuffix = "_n";

    /// <summary>The suffix of a spec's vectorized kernel over operands dense with the output or scalars (<see cref="VectorKernelEmitter"/>).</summary>
    public const string FlatSuffix = "_flat";

    /// <summary>
    /// The suffix of a spec's unrolled <see cref="FlatSuffix"/> kernel: each grid-stride step takes
    /// <see cref="VectorKernelEmitter.Unroll(ElementwiseSpec)"/> blocks, every load first, then the math, then the stores.
    /// </summary>
    public const string FlatUnrolledSuffix = "_flatu";

    /// <summary>
    /// The suffix of a spec's flat kernel unrolled by <paramref name="blocks"/> blocks a grid-stride step (every load of
    /// the step before any math), emitted only when the emitter was created with that count
    /// (<see cref="ElementwiseLaunch.VectorUnrollVariable"/>).
    /// </summary>
    public static string FlatUnrolledBy(int blocks) => FlatUnrolledSuffix + blocks.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The suffix appended to a vectorized kernel's (<see cref="FlatSuffix"/>, <see cref="FlatUnrolledSuffix"/>,
    /// <see cref="RowsSuffix"/>) name for its form that converts f16 with the hardware's instructions
    /// (<see cref="GpuMath.HalfToF32"/>; specs with an f16 operand only).
    /// </summary>
    public const string HardwareHalfSuffix = "h";

    /// <summary>The suffix of a spec's vectorized kernel over rows (<see cref="VectorKernelEmitter"/>; specs of rank 2 and more).</summary>
    public const string RowsSuffix = "_rows";

    /// <summary>
    /// Returns the general kernel's name for <paramref name="spec"/>, emitting it the first time with its variants:
    /// <see cref="NarrowSuffix"/>, <see cref="FlatSuffix"/>, <see cref="FlatUnrolledSuffix"/> and <see cref="RowsSuffix"/>
    /// where they apply, the vectorized ones also with <see cref="HardwareHalfSuffix"/> for specs with an f16 operand (the
    /// lowering picks one per launch).
    /// </summary>
    /// <exception cref="NotSupportedException">A body op or dtype has no GPU form (the message names it).</exception>
    /// <exception cref="InvalidOperationException">The assembly was already built.</exception>
    public string GetOrAdd(ElementwiseSpec spec)
    {
        if (_built is not null) throw new InvalidOperationException("the kernel assembly was already built");
        string key = spec.Key;
        if (_byKey.TryGetValue(key, out var existing)) return existing;
        string name = $"k{_byKey.Count}_{spec.Hint}";
        EmitGeneral(Define(name, ParameterTypes(spec), key, $"{spec.Body.Count} body ops, rank {spec.Rank}, {spec.Inputs.Count} inputs"), spec, narrow: false);
        if (spec.Rank >= 2) EmitGeneral(Define(name + NarrowSuffix, ParameterTypes(spec), key, "32-bit indices"), spec, narrow: true);
        if (VectorKernelEmitter.Supports(spec))
        {
            var types = VectorKernelEmitter.ParameterTypes(spec);
            int lanes = VectorKernelEmitter.Lanes(spec);
            int unroll = VectorKernelEmitter.Unroll(spec);
            bool half = spec.OutDType == DType.F16 || spec.Inputs.Any(i => i.DType == DType.F16);
            foreach (bool hw in half ? new[] { false, true } : [false])
            {
                string h = hw ? HardwareHalfSuffix : "";
                VectorKernelEmitter.Emit(Define(name + FlatSuffix + h, types, key, $"{lanes} elements a thread, operands dense or scalar"), spec, rows: false, 1, hw);
                VectorKernelEmitter.Emit(Define(name + FlatUnrolledSuffix + h, types, key, $"{unroll} × {lanes} elements a thread step, operands dense or scalar"), spec, rows: false, unroll, hw);
                if (_unrollBy > 0) VectorKernelEmitter.Emit(Define(name + FlatUnrolledBy(_unrollBy) + h, types, key, $"{_unrollBy} × {lanes} elements a thread step, operands dense or scalar"), spec, rows: false, _unrollBy, hw);
                if (spec.Rank >= 2) VectorKernelEmitter.Emit(Define(name + RowsSuffix + h, types, key, $"{lanes} elements a thread, operands by rows"), spec, rows: true, 1, hw);
            }
        }

        _byKey[key] = name;
        return name;
    }

    /// <summary>
    /// Returns the kernel name for a row reduction with a broadcast consumer, emitting it the first time
    /// (<see cref="BroadcastReductionKernelEmitter"/>) with its <see cref="BroadcastReductionKernelEmitter.ShuffleSuffix"/>
    /// form (the lowering picks the device's).
    /// </summary>
    /// <exception cref="NotSupportedException">A body op or dtype has no GPU form (the message names it).</exception>
    /// <exception cref="InvalidOperationException">The assembly was already built.</exception>
    public string GetOrAdd(BroadcastReductionSpec spec)
    {
        if (_built is not null) throw new InvalidOperationException("the kernel assembly was already built");
        string key = spec.Key;
        if (_byKey.TryGetValue(key, out var existing)) return existing;
        BroadcastReductionKernelEmitter.Check(spec);
        string name = $"k{_byKey.Count}_{spec.Hint}";
        var types = BroadcastReductionKernelEmitter.ParameterTypes(spec);
        string what = $"{spec.Body.Count} body ops, {spec.ReductionPasses} reduction passes, outer rank {spec.OuterRank}, reduced rank {spec.ReducedRank}";
        BroadcastReductionKernelEmitter.Emit(Define(name, types, key, what + ", shared-memory folds", grouped: true), spec, shuffle: false);
        BroadcastReductionKernelEmitter.Emit(Define(name + BroadcastReductionKernelEmitter.ShuffleSuffix, types, key, what + ", warp-shuffle folds", grouped: true), spec, shuffle: true);
        _byKey[key] = name;
        return name;
    }

    /// <summary>Finishes the type, saves and loads the assembly; null when no kernel was emitted.</summary>
    public Type? Build()
    {
        if (_built is not null) return _built;
        if (_byKey.Count == 0) return null;
        _type.CreateType();
        using var ms = new MemoryStream();
        _assembly.Save(ms);
        _built = Assembly.Load(ms.ToArray()).GetType(KernelsType, throwOnError: true)!;
        return _built;
    }

    internal static Type ViewOf(DType dtype) => typeof(ArrayView<>).MakeGenericType(StorageType(dtype));

    internal static MethodInfo Math(string name) =>
        typeof(GpuMath).GetMethod(name, BindingFlags.Public | BindingFlags.Static) ?? throw new InvalidOperationException($"GpuMath has no {name}");

    internal static string LoadName(DType dtype, bool hardwareHalf = false) => dtype switch
    {
        DType.F32 => nameof(GpuMath.LoadF32),
        DType.F16 => hardwareHalf ? nameof(GpuMath.LoadHalf) : nameof(GpuMath.LoadF16),
        DType.BF16 => nameof(GpuMath.LoadBF16),
        DType.Bool => nameof(GpuMath.LoadBool),
        _ => throw new NotSupportedException($"generated GPU kernels do not load {dtype.TorchName()}"),
    };

    internal static string StoreName(DType dtype, bool hardwareHalf = false) => dtype switch
    {
        DType.F32 => nameof(GpuMath.StoreF32),
        DType.F16 => hardwareHalf ? nameof(GpuMath.StoreHalf) : nameof(GpuMath.StoreF16),
        DType.BF16 => nameof(GpuMath.StoreBF16),
        DType.Bool => nameof(GpuMath.StoreBool),
        _ => throw new NotSupportedException($"generated GPU kernels do not store {dtype.TorchName()}"),
    };

    /// <summary>The device function of an op (f32 in, f32 out).</summary>
    internal static string OpFunction(Op op) => op switch
    {
        Op.Neg => nameof(GpuMath.Neg),
        Op.Abs => nameof(GpuMath.Abs),
        Op.Exp => nameof(GpuMath.Exp),
        Op.Log => nameof(GpuMath.Log),
        Op.Sqrt => nameof(GpuMath.Sqrt),
        Op.Rsqrt => nameof(GpuMath.Rsqrt),
        Op.Sin => nameof(GpuMath.Sin),
        Op.Cos => nameof(GpuMath.Cos),
        Op.Tanh => nameof(GpuMath.Tanh),
        Op.Sigmoid => nameof(GpuMath.Sigmoid),
        Op.Relu => nameof(GpuMath.Relu),
        Op.Gelu => nameof(GpuMath.Gelu),
        Op.GeluTanh => nameof(GpuMath.GeluTanh),
        Op.Silu => nameof(GpuMath.Silu),
        Op.Erf => nameof(GpuMath.Erf),
        Op.Floor => nameof(GpuMath.Floor),
        Op.Ceil => nameof(GpuMath.Ceil),
        Op.Round => nameof(GpuMath.Round),
        Op.Sign => nameof(GpuMath.Sign),
        Op.Reciprocal => nameof(GpuMath.Reciprocal),
        Op.LogicalNot => nameof(GpuMath.LogicalNot),
        Op.Softplus => nameof(GpuMath.Softplus),
        Op.Mish => nameof(GpuMath.Mish),
        Op.Add => nameof(GpuMath.Add),
        Op.Sub => nameof(GpuMath.Sub),
        Op.Mul => nameof(GpuMath.Mul),
        Op.Div => nameof(GpuMath.Div),
        Op.FloorDiv => nameof(GpuMath.FloorDiv),
        Op.Remainder => nameof(GpuMath.Remainder),
        Op.Pow => nameof(GpuMath.Pow),
        Op.Maximum => nameof(GpuMath.Maximum),
        Op.Minimum => nameof(GpuMath.Minimum),
        Op.Eq => nameof(GpuMath.Eq),
        Op.Ne => nameof(GpuMath.Ne),
        Op.Lt => nameof(GpuMath.Lt),
        Op.Le => nameof(GpuMath.Le),
        Op.Gt => nameof(GpuMath.Gt),
        Op.Ge => nameof(GpuMath.Ge),
        Op.LogicalAnd => nameof(GpuMath.LogicalAnd),
        Op.LogicalOr => nameof(GpuMath.LogicalOr),
        Op.Where => nameof(GpuMath.Where),
        _ => throw new NotSupportedException($"the GPU renderer has no device function for op '{op.Name()}'"),
    };

    private static float Narrow(DType dtype, float value) => dtype switch
    {
        DType.F16 => GpuMath.RoundF16(value),
        DType.BF16 => GpuMath.RoundBF16(value),
        DType.Bool => value != 0 ? 1f : 0f,
        _ => value,
    };

    private ILGenerator Define(string name, Type[] types, string key, string what, bool grouped = false)
    {
        var m = _type.DefineMethod(name, MethodAttributes.Public | MethodAttributes.Static | MethodAttributes.HideBySig, typeof(void), types);
        if (!grouped) m.DefineParameter(1, ParameterAttributes.None, "index");
        m.DefineParameter(grouped ? 1 : 2, ParameterAttributes.None, "output");
        _dump.Append(CultureInfo.InvariantCulture, $".method public static void {name}({string.Join(", ", types.Select(t => t.Name))})\n  // {key}\n  // {what}\n\n");
        return m.GetILGenerator();
    }

    /// <summary>
    /// The general kernel: one element per thread, every input's offset from the flat index by division and remainder
    /// over the shape; with <paramref name="narrow"/> in 32-bit unsigned arithmetic (the launch checks that every index
    /// fits), else in 64-bit.
    /// </summary>
    private static void EmitGeneral(ILGenerator il, ElementwiseSpec spec, bool narrow)
    {
        int n = spec.Inputs.Count, rank = spec.Rank;
        const int OutArg = 1;
        int shapeAt = 2 + n;
        int OffsetArg(int k) => shapeAt + rank + (k * (1 + rank));
        var index = narrow ? typeof(int) : typeof(long);

        void LoadArg(int arg)
        {
            il.Emit(OpCodes.Ldarg, (short)arg);
            if (narrow) il.Emit(OpCodes.Conv_I4);
        }

        var i = il.DeclareLocal(index);
        var rem = il.DeclareLocal(index);
        var c = il.DeclareLocal(index);
        var offsets = Enumerable.Range(0, n).Select(_ => il.DeclareLocal(index)).ToArray();

        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Call, Math(nameof(GpuMath.Linear)));
        if (narrow) il.Emit(OpCodes.Conv_I4);
        il.Emit(OpCodes.Stloc, i);
        for (int k = 0; k < n; k++)
        {
            LoadArg(OffsetArg(k));
            il.Emit(OpCodes.Stloc, offsets[k]);
        }

        if (rank > 0 && n > 0)
        {
            il.Emit(OpCodes.Ldloc, i);
            il.Emit(OpCodes.Stloc, rem);
            for (int d = rank - 1; d >= 0; d--)
            {
                if (d > 0)
                {
                    il.Emit(OpCodes.Ldloc, rem);
                    LoadArg(shapeAt + d);
                    il.Emit(narrow ? OpCodes.Rem_Un : OpCodes.Rem);
                    il.Emit(OpCodes.Stloc, c);
                    il.Emit(OpCodes.Ldloc, rem);
                    LoadArg(shapeAt + d);
                    il.Emit(narrow ? OpCodes.Div_Un : OpCodes.Div);
                    il.Emit(OpCodes.Stloc, rem);
                }
                else
                {
                    il.Emit(OpCodes.Ldloc, rem);
                    il.Emit(OpCodes.Stloc, c);
                }

                for (int k = 0; k < n; k++)
                {
                    var access = spec.Inputs[k].Access;
                    if (d == rank - 1 && access == InnerAccess.Broadcast) continue;
                    il.Emit(OpCodes.Ldloc, offsets[k]);
                    il.Emit(OpCodes.Ldloc, c);
                    if (!(d == rank - 1 && access == InnerAccess.Contiguous))
                    {
                        LoadArg(OffsetArg(k) + 1 + d);
                        il.Emit(OpCodes.Mul);
                    }

                    il.Emit(OpCodes.Add);
                    il.Emit(OpCodes.Stloc, offsets[k]);
                }
            }
        }

        var values = EmitBodyValues(il, spec, k =>
        {
            il.Emit(OpCodes.Ldarg, (short)(2 + k));
            il.Emit(OpCodes.Ldloc, offsets[k]);
            if (narrow) il.Emit(OpCodes.Conv_I8);
            il.Emit(OpCodes.Call, Math(LoadName(spec.Inputs[k].DType)));
        });

        void Store(int arg, LocalBuilder value, DType dtype)
        {
            il.Emit(OpCodes.Ldarg, (short)arg);
            il.Emit(OpCodes.Ldloc, i);
            if (narrow) il.Emit(OpCodes.Conv_I8);
            il.Emit(OpCodes.Ldloc, value);
            il.Emit(OpCodes.Call, Math(StoreName(dtype)));
        }

        Store(OutArg, values[^1], spec.OutDType);
        int storesAt = OffsetArg(n);
        for (int s = 0; s < spec.Stores.Count; s++) Store(storesAt + s, values[spec.Stores[s].Op], spec.Stores[s].DType);
        il.Emit(OpCodes.Ret);
    }

    /// <summary>
    /// Emits the body ops in order (each input read by <paramref name="loadInput"/>, which pushes its f32 value) and
    /// returns the local that holds the result; with <paramref name="hardwareHalf"/>, f16 results are rounded by
    /// <see cref="GpuMath.RoundHalf"/>.
    /// </summary>
    internal static LocalBuilder EmitBody(ILGenerator il, ElementwiseSpec spec, Action<int> loadInput, bool hardwareHalf = false) =>
        EmitBodyValues(il, spec, loadInput, hardwareHalf)[^1];

    /// <summary>
    /// Emits the body ops in order as <see cref="EmitBody"/> does and returns the local of every op (a multi-output
    /// spec stores several of them).
    /// </summary>
    internal static LocalBuilder[] EmitBodyValues(ILGenerator il, ElementwiseSpec spec, Action<int> loadInput, bool hardwareHalf = false) =>
        EmitOps(il, spec.Body, loadInput, hardwareHalf);

    /// <summary>Emits <paramref name="body"/> in order (each input read by <paramref name="loadInput"/>) and returns the local of every op.</summary>
    internal static LocalBuilder[] EmitOps(ILGenerator il, IReadOnlyList<BodyOp> body, Action<int> loadInput, bool hardwareHalf = false)
    {
        var values = body.Select(_ => il.DeclareLocal(typeof(float))).ToArray();
        for (int b = 0; b < body.Count; b++) EmitOp(il, body, b, values, loadInput, hardwareHalf);
        return values;
    }

    /// <summary>
    /// Emits body op <paramref name="b"/> into its local <paramref name="values"/>[b] from the locals of its operands
    /// (an input read by <paramref name="loadInput"/>, which pushes its f32 value); accumulators are the caller's.
    /// </summary>
    internal static void EmitOp(ILGenerator il, IReadOnlyList<BodyOp> body, int b, LocalBuilder[] values, Action<int> loadInput, bool hardwareHalf = false)
    {
        var op = body[b];
        switch (op.Op)
        {
            case Op.Input:
                loadInput(op.Input);
                break;
            case Op.Full:
                il.Emit(OpCodes.Ldc_R4, Narrow(op.DType, (float)op.Constant));
                break;
            case Op.Cast:
                il.Emit(OpCodes.Ldloc, values[op.Args[0]]);
                Round(il, op.DType, castFromOther: true, hardwareHalf);
                break;
            default:
                var fn = Math(OpFunction(op.Op));
                if (fn.GetParameters().Length != op.Args.Length)
                {
                    throw new NotSupportedException($"op '{op.Op.Name()}' has {op.Args.Length} operands in the kernel IR but its device function takes {fn.GetParameters().Length}");
                }

                foreach (int a in op.Args) il.Emit(OpCodes.Ldloc, values[a]);
                il.Emit(OpCodes.Call, fn);
                if (op.DType == DType.Bool && op.Op == Op.Add) il.Emit(OpCodes.Call, Math(nameof(GpuMath.ToBool)));
                else Round(il, op.DType, castFromOther: false, hardwareHalf);
                break;
        }

        il.Emit(OpCodes.Stloc, values[b]);
    }

    /// <summary>Rounds the f32 value on the stack to <paramref name="dtype"/> (as a body op of that dtype stores it).</summary>
    internal static void RoundTo(ILGenerator il, DType dtype, bool hardwareHalf = false) => Round(il, dtype, castFromOther: false, hardwareHalf);

    private static void Round(ILGenerator il, DType dtype, bool castFromOther, bool hardwareHalf)
    {
        switch (dtype)
        {
            case DType.F16:
                il.Emit(OpCodes.Call, Math(hardwareHalf ? nameof(GpuMath.RoundHalf) : nameof(GpuMath.RoundF16)));
                break;
            case DType.BF16:
                il.Emit(OpCodes.Call, Math(nameof(GpuMath.RoundBF16)));
                break;
            case DType.Bool when castFromOther:
                il.Emit(OpCodes.Call, Math(nameof(GpuMath.ToBool)));
                break;
            case DType.F32 or DType.Bool:
                break;
            default:
                throw new NotSupportedException($"generated GPU kernels do not compute in {dtype.TorchName()}");
        }
    }
}
