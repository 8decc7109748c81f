namespace Candle.Runtime.Plans;

/// <summary>
/// One buffer slot of a plan. <see cref="Index"/> is the input, weight or output number for those kinds;
/// arena buffers are live from step <see cref="FirstStep"/> to step <see cref="LastStep"/> (inclusive).
/// </summary>
/// <param name="Kind">Where the memory comes from.</param>
/// <param name="Index">Input, weight or output number (unused for arena buffers).</param>
/// <param name="Bytes">Size in bytes, possibly symbolic.</param>
/// <param name="FirstStep">First step that uses an arena buffer.</param>
/// <param name="LastStep">Last step that uses an arena buffer.</param>
public sealed record PlanBuffer(BufferKind Kind, int Index, DimExpr Bytes, int FirstStep = 0, int LastStep = 0);
