namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// The dot products of up to <see cref="GemvKernels.MaxRows"/> activation rows with the two weight rows a warp of the
/// quad few-row products takes (R<i>r</i>0 with the first weight row, R<i>r</i>1 with the second), as one lane or
/// one warp holds them.
/// </summary>
internal readonly struct PairSums
{
    /// <summary>Creates the sums.</summary>
    public PairSums(float r00, float r01, float r10, float r11, float r20, float r21, float r30, float r31)
    {
        R00 = r00;
        R01 = r01;
        R10 = r10;
        R11 = r11;
        R20 = r20;
        R21 = r21;
        R30 = r30;
        R31 = r31;
    }

    /// <summary>Activation row 0 with the first weight row.</summary>
    public readonly float R00;

    /// <summary>Activation row 0 with the second weight row.</summary>
    public readonly float R01;

    /// <summary>Activation row 1 with the first weight row.</summary>
    public readonly float R10;

    /// <summary>Activation row 1 with the second weight row.</summary>
    public readonly float R11;

    /// <summary>Activation row 2 with the first weight row.</summary>
    public readonly float R20;

    /// <summary>Activation row 2 with the second weight row.</summary>
    public readonly float R21;

    /// <summary>Activation row 3 with the first weight row.</summary>
    public readonly float R30;

    /// <summary>Activation row 3 with the second weight row.</summary>
    public readonly float R31;
}
