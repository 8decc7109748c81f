namespace Candle.Transformers.Models;

/// <summary>Registers the architectures that ship with Candle.Transformers.</summary>
internal static class BuiltInModels
{
    /// <summary>Called once by <see cref="ModelRegistry"/>; one line per architecture.</summary>
    public static void RegisterAll()
    {
        ModelRegistry.Register("llama", Llama.LlamaForCausalLM.Load);
        ModelRegistry.Register("mistral", Llama.LlamaForCausalLM.Load);
        ModelRegistry.Register("qwen2", Llama.LlamaForCausalLM.Load);
        ModelRegistry.Register("gemma", Llama.LlamaForCausalLM.Load);
        ModelRegistry.Register("phi3", Llama.LlamaForCausalLM.Load);
        ModelRegistry.Register("gpt2", Gpt2.Gpt2LMHeadModel.Load);
        ModelRegistry.Register("bert", Bert.BertArchitectures.LoadAuto);
        ModelRegistry.Register("vit", Vit.VitForImageClassification.LoadAuto);
        ModelRegistry.Register("whisper", Whisper.WhisperForConditionalGeneration.Load);
    }
}
