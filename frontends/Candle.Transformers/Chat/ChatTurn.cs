namespace Candle.Transformers.Chat;

/// <summary>One message of a conversation: who said it (<c>system</c>, <c>user</c>, <c>assistant</c>, <c>tool</c>) and what.</summary>
/// <param name="Role">The speaker's role.</param>
/// <param name="Content">The message text.</param>
public sealed record ChatTurn(string Role, string Content);
