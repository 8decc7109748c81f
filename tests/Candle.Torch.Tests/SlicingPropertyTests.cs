using CsCheck;

namespace Candle.Torch.Tests;

/// <summary>Slicing follows Python's list semantics (clamping, negative bounds), checked against LINQ.</summary>
public class SlicingPropertyTests
{
    private static List<long> Python(int n, long? start, long? end, int step)
    {
        long s = start ?? 0, e = end ?? n;
        if (s < 0) s = Math.Max(s + n, 0);
        if (e < 0) e = Math.Max(e + n, 0);
        s = Math.Min(s, n);
        e = Math.Min(e, n);
        var r = new List<long>();
        for (long i = s; i < e; i += step) r.Add(i);
        return r;
    }

    [Fact]
    public void Slices_match_python_lists()
    {
        var bound = Gen.Int[-9, 8].Select(v => v == -9 ? null : (long?)v);
        Gen.Select(Gen.Int[0, 7], bound, bound, Gen.Int[1, 3]).Sample((n, start, end, step) =>
        {
            var x = Tensors.Arange(n);
            var got = x[TensorIndex.Slice(start, end, step)].ToArray<long>();
            Assert.Equal(Python(n, start, end, step), got);
        }, iter: 300);
    }

    [Fact]
    public void Ranges_match_python_lists()
    {
        Gen.Select(Gen.Int[1, 7], Gen.Int[0, 7], Gen.Int[0, 7], Gen.Bool, Gen.Bool).Sample((n, a, b, fromEndA, fromEndB) =>
        {
            var range = new Range(new Index(a, fromEndA), new Index(b, fromEndB));
            var (off, len) = (0, 0);
            bool valid = true;
            try
            {
                (off, len) = range.GetOffsetAndLength(n);
            }
            catch (ArgumentOutOfRangeException)
            {
                valid = false;
            }

            var got = Tensors.Arange(n)[range].ToArray<long>();
            if (valid) Assert.Equal(Enumerable.Range(off, len).Select(i => (long)i), got);
            else Assert.Equal(Python(n, fromEndA ? (a == 0 ? n : -a) : a, fromEndB ? (b == 0 ? null : -b) : b, 1), got);
        }, iter: 300);
    }
}
