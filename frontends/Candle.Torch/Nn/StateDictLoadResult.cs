namespace Candle.Torch.Nn;

/// <summary>What <see cref="Module.LoadStateDict(IReadOnlyDictionary{string, Runtime.Tensors.HostTensor}, bool, bool)"/> did not match.</summary>
/// <param name="MissingKeys">Names the module has but the source lacked.</param>
/// <param name="UnexpectedKeys">Names the source had but the module lacks.</param>
public sealed record StateDictLoadResult(IReadOnlyList<string> MissingKeys, IReadOnlyList<string> UnexpectedKeys);
