namespace Candle.Torch.Nn;

/// <summary>A module with one input and one output.</summary>
/// <typeparam name="TIn">The input type.</typeparam>
/// <typeparam name="TOut">The output type.</typeparam>
public abstract class Module<TIn, TOut> : Module
{
    /// <summary>The forward pass.</summary>
    public abstract TOut Forward(TIn input);
}

/// <summary>A module with two inputs and one output.</summary>
/// <typeparam name="T1">The first input type.</typeparam>
/// <typeparam name="T2">The second input type.</typeparam>
/// <typeparam name="TOut">The output type.</typeparam>
public abstract class Module<T1, T2, TOut> : Module
{
    /// <summary>The forward pass.</summary>
    public abstract TOut Forward(T1 input1, T2 input2);
}
