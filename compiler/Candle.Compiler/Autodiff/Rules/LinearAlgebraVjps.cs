using Candle.Compiler.Ir;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Autodiff.Rules;

/// <summary>The rule of matmul: for C = A·B over equal batch dims, ∂A = ∂C·Bᵀ and ∂B = Aᵀ·∂C.</summary>
internal static class LinearAlgebraVjps
{
    public static void Register(VjpTable.Registry t)
    {
        t.Add(Op.MatMul, (n, g) =>
        {
            var (a, b) = (n.Inputs[0], n.Inputs[1]);
            return [MatMul(g, Transpose(b, -2, -1)), MatMul(Transpose(a, -2, -1), g)];
        });
    }
}
