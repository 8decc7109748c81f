namespace Candle.Transformers.Generation;

/// <summary>One token handed to a streaming callback as soon as it is chosen.</summary>
/// <param name="Id">The token id.</param>
/// <param name="Text">
/// The text this token adds to the output (may be empty while a multi-byte character is incomplete, or when the
/// generator has no tokenizer).
/// </param>
/// <param name="Index">0 for the first new token, 1 for the next, ...</param>
public readonly record struct GeneratedToken(int Id, string Text, int Index);
