using System.Security.Cryptography;

namespace Candle.Runtime.Plans;

/// <summary>
/// How <see cref="Plan.Load(string, PlanLoadOptions)"/> decides whether to trust a plan file.
/// </summary>
/// <remarks>
/// A plan file contains executable code (its generated kernel assembly). Whatever the options, every section's SHA-256
/// is checked against the file's header and the plan's structure is verified before the code is loaded, so a damaged
/// or edited file fails with <see cref="PlanFormatException"/>. The hashes do not say who wrote the file: load unsigned
/// plans only when you built them or trust where they came from. With <see cref="TrustedKeys"/> set, only plans signed
/// (ECDSA P-256 over SHA-256 of the header) by one of those keys load.
/// </remarks>
public sealed record PlanLoadOptions
{
    /// <summary>
    /// Public keys whose signatures are trusted (<see cref="Plan.PublicKeyOf"/>, the SubjectPublicKeyInfo bytes). When not empty, a
    /// plan must carry a valid signature by one of them.
    /// </summary>
    public IReadOnlyList<byte[]> TrustedKeys { get; init; } = [];

    /// <summary>The most worker threads a plan may ask for; more is a <see cref="PlanFormatException"/>.</summary>
    public int MaxThreads { get; init; } = 1024;

    /// <summary>Default options: integrity and structure checked, no signature required.</summary>
    public static PlanLoadOptions Default { get; } = new();
}
