namespace Candle.Transformers.Models.Whisper;

/// <summary>The outcome of <see cref="WhisperGreedyDecoder.Generate"/>.</summary>
/// <param name="Tokens">Per batch row: the prompt followed by the generated tokens (a row that stopped is padded with the pad token).</param>
/// <param name="StepLogits">Per step: the logits of the last position, [batch · vocab] row-major.</param>
/// <param name="PromptLength">The number of prompt tokens at the start of each row.</param>
public sealed record WhisperDecodeResult(IReadOnlyList<IReadOnlyList<int>> Tokens, IReadOnlyList<float[]> StepLogits, int PromptLength);
