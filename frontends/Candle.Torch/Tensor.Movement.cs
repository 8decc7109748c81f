using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Torch;

public partial class Tensor
{
    /// <summary>The same elements in another shape; one entry may be −1 (inferred).</summary>
    public Tensor View(params long[] shape) => View([.. shape.Select(Dim.Of)]);

    /// <summary>The same elements in another (possibly symbolic) shape; one entry may be −1 (inferred).</summary>
    public Tensor View(params Dim[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        return W(IrBuilder.Reshape(Node, shape));
    }

    /// <summary>The same elements in another shape (views are free in this IR, so this equals <see cref="View(long[])"/>).</summary>
    public Tensor Reshape(params long[] shape) => View(shape);

    /// <summary>The same elements in another (possibly symbolic) shape.</summary>
    public Tensor Reshape(params Dim[] shape) => View(shape);

    /// <summary>The same elements in <paramref name="shape"/>.</summary>
    public Tensor Reshape(Shape shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        return W(IrBuilder.Reshape(Node, shape));
    }

    /// <summary>Reshapes to <paramref name="other"/>'s shape.</summary>
    public Tensor ViewAs(Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Reshape(other.Shape);
    }

    /// <summary>Permutes the dims (negative dims allowed).</summary>
    public Tensor Permute(params int[] dims) => W(IrBuilder.Permute(Node, dims));

    /// <summary>Swaps two dims.</summary>
    public Tensor Transpose(int dim0, int dim1) => W(IrBuilder.Transpose(Node, dim0, dim1));

    /// <summary>The transpose of a matrix (identity for 0-d and 1-d tensors).</summary>
    /// <exception cref="IrException">The tensor has more than 2 dims (use <see cref="MT"/> or <see cref="Permute"/>).</exception>
    public Tensor T => Rank switch
    {
        < 2 => this,
        2 => Transpose(0, 1),
        _ => throw IrException.For(Op.Permute, [Node], "t: expects a tensor of at most 2 dims (use MT or Permute)"),
    };

    /// <summary>Swaps the last two dims (PyTorch's <c>mT</c>).</summary>
    public Tensor MT => Transpose(-2, -1);

    /// <summary>Returns this tensor: every tensor of this IR is logically contiguous.</summary>
    public Tensor Contiguous() => this;

    /// <summary>Inserts a size-1 dim at <paramref name="dim"/> (−1 appends).</summary>
    public Tensor Unsqueeze(int dim) => W(IrBuilder.Unsqueeze(Node, dim));

    /// <summary>Removes the given size-1 dims (dims of another size stay), or all size-1 dims when none are given.</summary>
    public Tensor Squeeze(params int[] dims) => W(IrBuilder.Squeeze(Node, dims));

    /// <summary>Broadcasts size-1 dims to <paramref name="sizes"/> (−1 keeps a dim; new dims are prepended).</summary>
    public Tensor Expand(params long[] sizes) => Expand([.. sizes.Select(Dim.Of)]);

    /// <summary>Broadcasts size-1 dims to <paramref name="sizes"/> (−1 keeps a dim; new dims are prepended).</summary>
    public Tensor Expand(params Dim[] sizes)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        int lead = sizes.Length - Rank;
        if (lead < 0) throw IrException.For(Op.Expand, [Node], $"expand: target [{string.Join(", ", sizes)}] has fewer dims than the tensor");
        var minusOne = Dim.Of(-1);
        var dims = new Dim[sizes.Length];
        for (int i = 0; i < sizes.Length; i++)
        {
            if (sizes[i] == minusOne)
            {
                if (i < lead) throw IrException.For(Op.Expand, [Node], $"expand: -1 is not allowed for the new leading dim {i}");
                dims[i] = Shape[i - lead];
            }
            else
            {
                dims[i] = sizes[i];
            }
        }

        return W(IrBuilder.Expand(Node, new Shape(dims)));
    }

    /// <summary>Broadcasts to <paramref name="other"/>'s shape.</summary>
    public Tensor ExpandAs(Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return W(IrBuilder.Expand(Node, other.Shape));
    }

    /// <summary>Broadcasts to <paramref name="shape"/>.</summary>
    public Tensor BroadcastTo(Shape shape) => W(IrBuilder.BroadcastTo(Node, shape));

    /// <summary>Merges dims <paramref name="startDim"/>..<paramref name="endDim"/> (inclusive) into one; a 0-d tensor becomes 1-d.</summary>
    public Tensor Flatten(int startDim = 0, int endDim = -1)
    {
        if (Rank == 0) return View(1L);
        int s = Shape.Axis(startDim, "flatten"), e = Shape.Axis(endDim, "flatten");
        if (s > e) throw IrException.For(Op.Reshape, [Node], $"flatten: start dim {startDim} comes after end dim {endDim}");
        var dims = Shape.Take(s).Append(Shape.Skip(s).Take(e - s + 1).Aggregate(Dim.One, (a, d) => a * d)).Concat(Shape.Skip(e + 1));
        return Reshape(new Shape(dims));
    }

    /// <summary>Splits dim <paramref name="dim"/> into <paramref name="sizes"/> (one may be −1).</summary>
    public Tensor Unflatten(int dim, params long[] sizes)
    {
        int a = Shape.Axis(dim, "unflatten");
        var inner = IrBuilder.Reshape(IrBuilder.Full(0, DType, new Shape(Shape[a])), [.. sizes.Select(Dim.Of)]).Shape;
        return Reshape(new Shape(Shape.Take(a).Concat(inner).Concat(Shape.Skip(a + 1))));
    }

    /// <summary><paramref name="length"/> elements of <paramref name="dim"/> from <paramref name="start"/> (negative start counts from the end).</summary>
    public Tensor Narrow(int dim, long start, long length)
    {
        int a = Shape.Axis(dim, "narrow");
        var s = start < 0 ? Shape[a] + start : Dim.Of(start);
        return Narrow(a, s, Dim.Of(length));
    }

    /// <summary><paramref name="length"/> elements of <paramref name="dim"/> from <paramref name="start"/> (symbolic allowed).</summary>
    public Tensor Narrow(int dim, Dim start, Dim length) => W(IrBuilder.Narrow(Node, dim, start, length));

    /// <summary>torch.chunk: up to <paramref name="chunks"/> pieces of ⌈n/chunks⌉ elements along <paramref name="dim"/> (the last may be smaller).</summary>
    public Tensor[] Chunk(int chunks, int dim = 0)
    {
        if (chunks < 1) throw new ArgumentOutOfRangeException(nameof(chunks), chunks, "chunk: chunks must be ≥ 1");
        int a = Shape.Axis(dim, "chunk");
        var d = Shape[a];
        if (d.TryGetConstant() is not long n)
        {
            if (!d.IsDivisibleBy(chunks)) throw IrException.For(Op.Slice, [Node], $"chunk: symbolic dimension {d} is not a known multiple of {chunks}");
            var size = d / chunks;
            return [.. Enumerable.Range(0, chunks).Select(i => Narrow(a, size * i, size))];
        }

        long step = (n + chunks - 1) / chunks;
        if (step == 0) return [this];
        return Split(step, a);
    }

    /// <summary>torch.split: pieces of <paramref name="splitSize"/> elements along <paramref name="dim"/> (the last may be smaller).</summary>
    public Tensor[] Split(long splitSize, int dim = 0)
    {
        if (splitSize < 1) throw new ArgumentOutOfRangeException(nameof(splitSize), splitSize, "split: size must be ≥ 1");
        int a = Shape.Axis(dim, "split");
        long n = Size(a);
        var parts = new List<Tensor>();
        for (long s = 0; s < n || (n == 0 && parts.Count == 0); s += splitSize)
        {
            parts.Add(Narrow(a, Dim.Of(s), Dim.Of(Math.Min(splitSize, n - s))));
        }

        return [.. parts];
    }

    /// <summary>torch.split with explicit sizes, which must sum to the dim.</summary>
    public Tensor[] Split(long[] sizes, int dim = 0)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        int a = Shape.Axis(dim, "split");
        var total = Dim.Of(sizes.Sum());
        if (total != Shape[a]) throw IrException.For(Op.Slice, [Node], $"split: sizes [{string.Join(", ", sizes)}] do not sum to dimension {a} of size {Shape[a]}");
        var parts = new Tensor[sizes.Length];
        long s = 0;
        for (int i = 0; i < sizes.Length; i++)
        {
            parts[i] = Narrow(a, Dim.Of(s), Dim.Of(sizes[i]));
            s += sizes[i];
        }

        return parts;
    }

    /// <summary>Removes dim <paramref name="dim"/>, returning every slice along it.</summary>
    public Tensor[] Unbind(int dim = 0)
    {
        int a = Shape.Axis(dim, "unbind");
        return [.. Enumerable.Range(0, checked((int)Size(a))).Select(i => Select(a, i))];
    }

    /// <summary>The slice at <paramref name="index"/> along <paramref name="dim"/>, removing the dim (negative counts from the end).</summary>
    public Tensor Select(int dim, long index) => W(IrBuilder.Select(Node, dim, index));

    /// <summary>Reverses the given dims.</summary>
    public Tensor Flip(params int[] dims) => W(IrBuilder.Flip(Node, dims));

    /// <summary>torch.Tensor.repeat: tiles the tensor <paramref name="repeats"/> times along each dim (extra leading repeats add dims).</summary>
    public Tensor Repeat(params long[] repeats)
    {
        ArgumentNullException.ThrowIfNull(repeats);
        if (repeats.Length < Rank) throw IrException.For(Op.Expand, [Node], $"repeat: {repeats.Length} repeats for a tensor of {Rank} dims");
        if (repeats.Any(r => r < 0)) throw IrException.For(Op.Expand, [Node], $"repeat: negative repeats [{string.Join(", ", repeats)}]");
        var dims = Enumerable.Repeat(Dim.One, repeats.Length - Rank).Concat(Shape).ToArray();
        var interleaved = new List<Dim>();
        var expanded = new List<Dim>();
        var result = new List<Dim>();
        for (int i = 0; i < dims.Length; i++)
        {
            interleaved.Add(Dim.One);
            interleaved.Add(dims[i]);
            expanded.Add(repeats[i]);
            expanded.Add(dims[i]);
            result.Add(dims[i] * repeats[i]);
        }

        var x = IrBuilder.Reshape(Node, new Shape(interleaved));
        x = IrBuilder.Expand(x, new Shape(expanded));
        return W(IrBuilder.Reshape(x, new Shape(result)));
    }

    /// <summary>Repeats each element <paramref name="repeats"/> times along <paramref name="dim"/> (as transformers' repeat_kv).</summary>
    public Tensor RepeatInterleave(long repeats, int dim)
    {
        if (repeats < 0) throw IrException.For(Op.Expand, [Node], $"repeat_interleave: negative repeats {repeats}");
        int a = Shape.Axis(dim, "repeat_interleave");
        var x = IrBuilder.Unsqueeze(Node, a + 1);
        x = IrBuilder.Expand(x, x.Shape.With(a + 1, repeats));
        return W(IrBuilder.Reshape(x, Shape.With(a, Shape[a] * repeats)));
    }

    /// <summary>Rows of this tensor along <paramref name="dim"/> chosen by an int64 or int32 <paramref name="index"/>.</summary>
    public Tensor IndexSelect(int dim, Tensor index)
    {
        ArgumentNullException.ThrowIfNull(index);
        return Wrap(IrBuilder.IndexSelect(Node, dim, index.Node), DeviceOf("index_select", this, index));
    }

    /// <summary>torch.gather along <paramref name="dim"/>.</summary>
    public Tensor Gather(int dim, Tensor index)
    {
        ArgumentNullException.ThrowIfNull(index);
        return Wrap(IrBuilder.Gather(Node, dim, index.Node), DeviceOf("gather", this, index));
    }

    /// <summary>torch.scatter_add (out of place): adds <paramref name="src"/> into a copy of this tensor at <paramref name="index"/> along <paramref name="dim"/>.</summary>
    public Tensor ScatterAdd(int dim, Tensor index, Tensor src)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(src);
        return Wrap(IrBuilder.ScatterAdd(Node, dim, index.Node, src.Node), DeviceOf("scatter_add", this, index, src));
    }

    /// <summary>
    /// torch.slice_scatter (out of place): a copy of this tensor whose elements <paramref name="start"/>,
    /// start + <paramref name="step"/>, ... along <paramref name="dim"/> are <paramref name="src"/>. In a traced graph over a
    /// donated input (<see cref="TraceInput.Donated"/>) a compiled plan writes only those elements, in place.
    /// </summary>
    public Tensor SliceScatter(Tensor src, int dim, Dim start, int step = 1)
    {
        ArgumentNullException.ThrowIfNull(src);
        return Wrap(IrBuilder.SliceScatter(Node, src.Node, dim, start, step), DeviceOf("slice_scatter", this, src));
    }

    /// <summary>The lower triangle of the last two dims: elements with col − row ≤ <paramref name="diagonal"/>; others are zero.</summary>
    public Tensor Tril(long diagonal = 0) => Triangle(diagonal, lower: true);

    /// <summary>The upper triangle of the last two dims: elements with col − row ≥ <paramref name="diagonal"/>; others are zero.</summary>
    public Tensor Triu(long diagonal = 0) => Triangle(diagonal, lower: false);

    private Tensor Triangle(long diagonal, bool lower)
    {
        if (Rank < 2) throw IrException.For(lower ? Op.Le : Op.Ge, [Node], $"{(lower ? "tril" : "triu")}: expects at least 2 dims");
        var rows = IrBuilder.Unsqueeze(IrBuilder.Arange(Shape[^2]), 1);
        var cols = IrBuilder.Unsqueeze(IrBuilder.Arange(Shape[^1]), 0);
        var offset = IrBuilder.Binary(Op.Sub, cols, rows);
        var keep = IrBuilder.Binary(lower ? Op.Le : Op.Ge, offset, diagonal);
        return W(IrBuilder.Where(keep, Node, IrBuilder.Scalar(0, DType)));
    }
}
