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
/// (ECDSA P-256 over SHA-256 of the header) by one of those keys load. With <see cref="KernelGenerator"/> set, the
/// embedded code is not loaded at all: the generated kernels are rebuilt from their specifications.
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

    /// <summary>
    /// When set, the plan's generated kernels are rebuilt by this generator from the specifications in the plan's kernel
    /// listing, and the kernel assembly embedded in the file is never loaded: an unsigned plan from an untrusted source
    /// then runs no code of its author's (its definition and weights are still checked as always). The generator's
    /// <see cref="IKernelGenerator.Target"/> must be the payload's target.
    /// </summary>
    public IKernelGenerator? KernelGenerator { get; init; }

    /// <summary>Default options: integrity and structure checked, no signature required.</summary>
    public static PlanLoadOptions Default { get; } = new();
}
