namespace Candle.Runtime.Kernels.Cpu.Lanes;

/// <summary>
/// float32 lanes of one width as a static-abstract trait (<see cref="Lanes128"/>, <see cref="Lanes256"/>,
/// <see cref="Lanes512"/>, and <see cref="Lanes1"/> for scalar tails): the primitive operations that the
/// elementwise operator structs and <see cref="SimdLanes{TLanes, TVec}"/> are written against once. Masks are
/// all-ones or all-zero lanes; the <c>Bits</c> members treat lanes as unsigned 32-bit integers.
/// </summary>
/// <typeparam name="TVec">The vector type (float for one lane).</typeparam>
public unsafe interface ILanes<TVec>
    where TVec : unmanaged
{
    /// <summary>Number of lanes.</summary>
    static abstract int Count { get; }

    /// <summary>Every lane <paramref name="x"/>.</summary>
    static abstract TVec Splat(float x);

    /// <summary>Loads Count floats.</summary>
    static abstract TVec Load(float* p);

    /// <summary>Stores Count floats.</summary>
    static abstract void Store(TVec v, float* p);

    /// <summary>Loads Count 16-bit values zero-extended into the 32-bit lanes (as bits).</summary>
    static abstract TVec LoadWidenU16(ushort* p);

    /// <summary>Stores the low 16 bits of every lane (the lanes hold bits below 2¹⁶).</summary>
    static abstract void StoreNarrowU16(TVec bits, ushort* p);

    /// <summary>a + b.</summary>
    static abstract TVec Add(TVec a, TVec b);

    /// <summary>a − b.</summary>
    static abstract TVec Sub(TVec a, TVec b);

    /// <summary>a · b.</summary>
    static abstract TVec Mul(TVec a, TVec b);

    /// <summary>a / b.</summary>
    static abstract TVec Div(TVec a, TVec b);

    /// <summary>−x.</summary>
    static abstract TVec Neg(TVec x);

    /// <summary>a · b + c, fused.</summary>
    static abstract TVec Fma(TVec a, TVec b, TVec c);

    /// <summary>|x|.</summary>
    static abstract TVec Abs(TVec x);

    /// <summary>√x (correctly rounded).</summary>
    static abstract TVec Sqrt(TVec x);

    /// <summary>e^x (.NET's vector exp, about 1 ulp; the same per lane at every width).</summary>
    static abstract TVec Exp(TVec x);

    /// <summary>ln x (.NET's vector log, about 1 ulp).</summary>
    static abstract TVec Log(TVec x);

    /// <summary>sin x (.NET's vector sin).</summary>
    static abstract TVec Sin(TVec x);

    /// <summary>cos x (.NET's vector cos).</summary>
    static abstract TVec Cos(TVec x);

    /// <summary>Round toward −∞.</summary>
    static abstract TVec Floor(TVec x);

    /// <summary>Round toward +∞.</summary>
    static abstract TVec Ceiling(TVec x);

    /// <summary>Round half to even.</summary>
    static abstract TVec Round(TVec x);

    /// <summary>Round toward zero.</summary>
    static abstract TVec Truncate(TVec x);

    /// <summary>|x| with the sign of <paramref name="sign"/>.</summary>
    static abstract TVec CopySign(TVec x, TVec sign);

    /// <summary>Mask of a == b.</summary>
    static abstract TVec Equal(TVec a, TVec b);

    /// <summary>Mask of a &lt; b.</summary>
    static abstract TVec LessThan(TVec a, TVec b);

    /// <summary>Mask of a ≤ b.</summary>
    static abstract TVec LessThanOrEqual(TVec a, TVec b);

    /// <summary>Mask of a &gt; b.</summary>
    static abstract TVec GreaterThan(TVec a, TVec b);

    /// <summary>Mask of a ≥ b.</summary>
    static abstract TVec GreaterThanOrEqual(TVec a, TVec b);

    /// <summary>Bitwise a and b.</summary>
    static abstract TVec And(TVec a, TVec b);

    /// <summary>Bitwise a or b.</summary>
    static abstract TVec Or(TVec a, TVec b);

    /// <summary>Bitwise a xor b.</summary>
    static abstract TVec Xor(TVec a, TVec b);

    /// <summary>Bitwise not.</summary>
    static abstract TVec Not(TVec a);

    /// <summary>Lanes of <paramref name="a"/> where <paramref name="mask"/> is set, else of <paramref name="b"/>.</summary>
    static abstract TVec Select(TVec mask, TVec a, TVec b);

    /// <summary>Every lane the bits <paramref name="bits"/>.</summary>
    static abstract TVec SplatBits(uint bits);

    /// <summary>a + b as unsigned integers (wrapping).</summary>
    static abstract TVec AddBits(TVec a, TVec b);

    /// <summary>a − b as unsigned integers (wrapping).</summary>
    static abstract TVec SubBits(TVec a, TVec b);

    /// <summary>Logical shift left.</summary>
    static abstract TVec ShiftLeftBits(TVec a, int count);

    /// <summary>Logical shift right.</summary>
    static abstract TVec ShiftRightBits(TVec a, int count);

    /// <summary>Mask of a == b as unsigned integers.</summary>
    static abstract TVec EqualBits(TVec a, TVec b);

    /// <summary>Mask of a &gt; b as unsigned integers.</summary>
    static abstract TVec GreaterThanBits(TVec a, TVec b);

    /// <summary>Mask of a &lt; b as unsigned integers.</summary>
    static abstract TVec LessThanBits(TVec a, TVec b);
}
