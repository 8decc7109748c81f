using Candle.Compiler.Ir;
using Candle.Runtime.Randomness;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Reference;

/// <summary>Counter-based random numbers, element by element from their definition (<see cref="Philox4x32"/>).</summary>
internal static class RandomEvaluator
{
    public static HostTensor Evaluate(OpCall call)
    {
        if (call.Op != Op.RandomUniform) throw new InvalidOperationException($"{call.Op.Name()} is not a random op");
        long seed = call[0].GetInt64(0);
        long stream = call.Attr<RandomUniformAttrs>().Stream;
        var v = new float[call.OutCount];
        for (int i = 0; i < v.Length; i++) v[i] = Philox4x32.Uniform(seed, stream, i);
        return HostTensor.FromArray(v, call.OutShape);
    }
}
