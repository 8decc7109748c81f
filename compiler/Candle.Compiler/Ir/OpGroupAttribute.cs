namespace Candle.Compiler.Ir;

/// <summary>The declaration of an <see cref="Op"/>'s group, put on its enum member; <see cref="OpInfo"/> reads it.</summary>
[AttributeUsage(AttributeTargets.Field, AllowMultiple = false, Inherited = false)]
internal abstract class OpGroupAttribute : Attribute
{
}
