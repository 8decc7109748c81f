using Candle.Compiler.Ir;

namespace Candle.Torch;

public partial class Tensor
{
    /// <summary>
    /// Basic indexing as in PyTorch: <c>x[0]</c>, <c>x[.., 1..3]</c>, <c>x[^1]</c>, <c>x[TensorIndex.Ellipsis, 0]</c>,
    /// <c>x[TensorIndex.None]</c>, <c>x[TensorIndex.Slice(0, null, 2)]</c>, and one index tensor (index_select).
    /// </summary>
    /// <exception cref="IrException">Too many indices, more than one ellipsis or an index out of range.</exception>
    [System.Runtime.CompilerServices.IndexerName("Index")]
    public Tensor this[params TensorIndex[] index]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(index);
            int consuming = index.Count(i => i.Kind is TensorIndexKind.Select or TensorIndexKind.Slice or TensorIndexKind.Tensor);
            int ellipses = index.Count(i => i.Kind == TensorIndexKind.Ellipsis);
            string text = string.Join(", ", index);
            if (ellipses > 1) throw IrException.For(Op.Slice, [Node], $"index [{text}]: at most one ellipsis is allowed");
            if (consuming > Rank) throw IrException.For(Op.Slice, [Node], $"index [{text}]: too many indices for a tensor of {Rank} dims");
            var x = Node;
            var device = Device;
            int axis = 0;
            foreach (var i in index)
            {
                switch (i.Kind)
                {
                    case TensorIndexKind.Select:
                        x = IrBuilder.Select(x, axis, i.Index);
                        break;
                    case TensorIndexKind.Slice:
                        x = IrBuilder.SliceAxis(x, axis, i.Start, i.End, i.Step);
                        axis++;
                        break;
                    case TensorIndexKind.NewAxis:
                        x = IrBuilder.Unsqueeze(x, axis);
                        axis++;
                        break;
                    case TensorIndexKind.Ellipsis:
                        axis += Rank - consuming;
                        break;
                    default:
                        var t = i.Tensor!;
                        device = DeviceOf("index", this, t);
                        x = IrBuilder.IndexSelect(x, axis, t.Node);
                        axis += t.Rank;
                        break;
                }
            }

            return Wrap(x, device);
        }
    }
}
