namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// What a preparable runtime kernel learns about its step when a plan is created: the step's arguments that do not
/// depend on symbols, the addresses of the plan's weights, and the generated epilogue kernel named in the step
/// (<c>rt:NAME@gen:EPILOGUE</c>), if any.
/// </summary>
public sealed class KernelPreparation
{
    /// <summary>Creates a preparation context.</summary>
    /// <param name="constantArgs">The step's arguments; null where an argument depends on symbols.</param>
    /// <param name="weightAddress">Maps a buffer slot to the address of its weight data, or 0 when the slot is not a weight.</param>
    /// <param name="epilogue">The generated epilogue kernel, or null.</param>
    public KernelPreparation(IReadOnlyList<long?> constantArgs, Func<long, nint> weightAddress, KernelFn? epilogue)
        : this(constantArgs, weightAddress, epilogue, null)
    {
    }

    /// <summary>Creates a preparation context that also names the objects owning the weights' memory.</summary>
    /// <param name="constantArgs">The step's arguments; null where an argument depends on symbols.</param>
    /// <param name="weightAddress">Maps a buffer slot to the address of its weight data, or 0 when the slot is not a weight.</param>
    /// <param name="epilogue">The generated epilogue kernel, or null.</param>
    /// <param name="weightOwner">
    /// Maps a buffer slot to the object owning its weight's memory (the array or memory manager behind it), or null;
    /// state derived from a weight (a packed copy) is shared between plans through it. Null: nothing is shared.
    /// </param>
    public KernelPreparation(IReadOnlyList<long?> constantArgs, Func<long, nint> weightAddress, KernelFn? epilogue, Func<long, object?>? weightOwner)
    {
        ArgumentNullException.ThrowIfNull(constantArgs);
        ArgumentNullException.ThrowIfNull(weightAddress);
        ConstantArgs = constantArgs;
        WeightAddress = weightAddress;
        Epilogue = epilogue;
        WeightOwner = weightOwner ?? (_ => null);
    }

    /// <summary>The step's arguments; null where an argument depends on symbols.</summary>
    public IReadOnlyList<long?> ConstantArgs { get; }

    /// <summary>Maps a buffer slot to the address of its weight data, or 0 when the slot is not a weight.</summary>
    public Func<long, nint> WeightAddress { get; }

    /// <summary>Maps a buffer slot to the object owning its weight's memory, or null when unknown or not a weight.</summary>
    public Func<long, object?> WeightOwner { get; }

    /// <summary>The generated epilogue kernel named after <c>@</c> in the step's kernel name, or null.</summary>
    public KernelFn? Epilogue { get; }
}

/// <summary>
/// Builds the kernel a plan step calls, with per-plan state (such as weights packed for GEMM) captured once when
/// the plan is created.
/// </summary>
/// <param name="preparation">The step's constant arguments, the weights and the epilogue.</param>
/// <returns>The kernel to call for this step.</returns>
public delegate KernelFn KernelPreparer(KernelPreparation preparation);
