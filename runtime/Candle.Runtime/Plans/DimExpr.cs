using System.Globalization;

namespace Candle.Runtime.Plans;

/// <summary>
/// A symbolic integer expression stored in a plan: constants, named symbols (such as <c>seq</c>), sums,
/// differences, products and floor divisions by constants. Its text form is the one the compiler prints
/// for dimensions (for example <c>2*seq + 1</c> or <c>(seq + 1)//2</c>), which is also how plans store it.
/// </summary>
public sealed class DimExpr : IEquatable<DimExpr>
{
    private readonly Node _root;

    // A constant expression's value, worked out once (binding a plan evaluates every step argument per set of symbol
    // values, and most are constants); a constant that does not evaluate (a zero divisor, an overflow) keeps
    // throwing from Evaluate.
    private readonly bool _isConstant, _hasValue;
    private readonly long _value;

    private DimExpr(Node root, string text)
    {
        _root = root;
        Text = text;
        _isConstant = root.IsConstant;
        if (!_isConstant) return;
        try
        {
            _value = root.Eval(EmptySymbols);
            _hasValue = true;
        }
        catch (Exception e) when (e is DivideByZeroException or OverflowException)
        {
            _hasValue = false;
        }
    }

    /// <summary>The expression's text.</summary>
    public string Text { get; }

    /// <summary>True when the expression has no symbols.</summary>
    public bool IsConstant => _isConstant;

    /// <summary>The symbol name when the expression is exactly one symbol, else null.</summary>
    public string? SymbolName => _root is SymNode s ? s.Name : null;

    /// <summary>A constant expression.</summary>
    public static DimExpr Const(long value) => new(new ConstNode(value), value.ToString(CultureInfo.InvariantCulture));

    /// <summary>A symbol.</summary>
    public static DimExpr Sym(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (!char.IsLetter(name[0]) && name[0] != '_' || name.Any(c => !(char.IsLetterOrDigit(c) || c is '_' or '.' or '$' or '\'')))
        {
            throw new ArgumentException($"'{name}' is not a symbol name (a letter or '_', then letters, digits, '_', '.', '$' or quotes)", nameof(name));
        }

        return new(new SymNode(name), name);
    }

    /// <summary>⌊<paramref name="numerator"/> / <paramref name="divisor"/>⌋ (floor division by a positive constant).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The divisor is not positive.</exception>
    public static DimExpr FloorDiv(DimExpr numerator, long divisor)
    {
        ArgumentNullException.ThrowIfNull(numerator);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(divisor);
        return new(new BinNode('/', numerator._root, new ConstNode(divisor)), $"({numerator.Text})//{divisor.ToString(CultureInfo.InvariantCulture)}");
    }

    /// <summary>
    /// The polynomial <paramref name="constant"/> + Σ coefficient·Π factors, built from its parts (no text is parsed);
    /// factors are symbols, constants or floor divisions. Its text reads back with <see cref="Parse"/> to the same value.
    /// </summary>
    public static DimExpr Polynomial(long constant, IReadOnlyList<(long Coefficient, IReadOnlyList<DimExpr> Factors)> terms)
    {
        ArgumentNullException.ThrowIfNull(terms);
        Node? root = null;
        var sb = new System.Text.StringBuilder();
        foreach (var (coefficient, factors) in terms)
        {
            if (coefficient == 0) continue;
            if (factors.Count == 0) throw new ArgumentException("a term needs at least one factor; put constants in the constant", nameof(terms));
            Node product = factors[0]._root;
            for (int i = 1; i < factors.Count; i++) product = new BinNode('*', product, factors[i]._root);
            long magnitude = Math.Abs(coefficient);
            if (magnitude != 1) product = new BinNode('*', new ConstNode(magnitude), product);
            string body = string.Join("*", factors.Select(f => f.Text));
            if (magnitude != 1) body = $"{magnitude.ToString(CultureInfo.InvariantCulture)}*{body}";
            if (root is null)
            {
                root = coefficient < 0 ? new BinNode('-', new ConstNode(0), product) : product;
                sb.Append(coefficient < 0 ? "-" : string.Empty).Append(body);
            }
            else
            {
                root = new BinNode(coefficient < 0 ? '-' : '+', root, product);
                sb.Append(coefficient < 0 ? " - " : " + ").Append(body);
            }
        }

        if (root is null) return Const(constant);
        if (constant != 0)
        {
            root = new BinNode(constant < 0 ? '-' : '+', root, new ConstNode(Math.Abs(constant)));
            sb.Append(constant < 0 ? " - " : " + ").Append(Math.Abs(constant).ToString(CultureInfo.InvariantCulture));
        }

        return new(root, sb.ToString());
    }

    /// <summary>The longest expression text <see cref="Parse"/> accepts.</summary>
    public const int MaxTextLength = 4096;

    /// <summary>The deepest parenthesis nesting <see cref="Parse"/> accepts.</summary>
    public const int MaxNesting = 32;

    /// <summary>
    /// Rejects text longer than <see cref="MaxTextLength"/> or nested deeper than <see cref="MaxNesting"/> with a loop
    /// over the characters (the parser keeps open parentheses on an explicit stack), so that the evaluator's recursion depth
    /// is bounded.
    /// </summary>
    private static void CheckBounds(string text)
    {
        if (text.Length > MaxTextLength)
        {
            throw new FormatException($"dimension expression of {text.Length} characters is longer than {MaxTextLength}");
        }

        int depth = 0;
        foreach (char c in text)
        {
            if (c == '(' && ++depth > MaxNesting) throw new FormatException($"dimension expression nests parentheses deeper than {MaxNesting}");
            if (c == ')') depth--;
        }
    }

    /// <summary>Parses the text form.</summary>
    /// <exception cref="FormatException">The text is not a valid expression.</exception>
    public static DimExpr Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        CheckBounds(text);
        var p = new Parser(text);
        var root = p.ParseExpr();
        p.SkipSpaces();
        if (!p.AtEnd)
        {
            throw new FormatException($"dimension expression '{text}': unexpected '{text[p.Pos]}' at {p.Pos}");
        }

        return new DimExpr(root, text);
    }

    /// <summary>The symbol names mentioned.</summary>
    public IEnumerable<string> Symbols
    {
        get
        {
            var set = new SortedSet<string>(StringComparer.Ordinal);
            _root.Collect(set);
            return set;
        }
    }

    /// <summary>Evaluates with the given symbol values.</summary>
    /// <exception cref="KeyNotFoundException">A symbol has no value.</exception>
    public long Evaluate(IReadOnlyDictionary<string, long> symbols) => _hasValue ? _value : _root.Eval(symbols);

    /// <summary>The value of a constant expression.</summary>
    /// <exception cref="InvalidOperationException">The expression is symbolic.</exception>
    public long Value => _hasValue ? _value : IsConstant ? _root.Eval(EmptySymbols) : throw new InvalidOperationException($"dimension expression '{Text}' is symbolic");

    private static readonly Dictionary<string, long> EmptySymbols = [];

    /// <inheritdoc/>
    public bool Equals(DimExpr? other) => other is not null && other.Text == Text;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is DimExpr d && Equals(d);

    /// <inheritdoc/>
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Text);

    /// <inheritdoc/>
    public override string ToString() => Text;

    private abstract class Node
    {
        public abstract bool IsConstant { get; }

        public abstract long Eval(IReadOnlyDictionary<string, long> s);

        public virtual void Collect(SortedSet<string> set)
        {
        }
    }

    private sealed class ConstNode(long value) : Node
    {
        public override bool IsConstant => true;

        public override long Eval(IReadOnlyDictionary<string, long> s) => value;
    }

    private sealed class SymNode(string name) : Node
    {
        public string Name => name;

        public override bool IsConstant => false;

        public override long Eval(IReadOnlyDictionary<string, long> s) =>
            s.TryGetValue(name, out long v) ? v : throw new KeyNotFoundException($"symbolic dimension '{name}' has no value");

        public override void Collect(SortedSet<string> set) => set.Add(name);
    }

    private sealed class BinNode(char op, Node a, Node b) : Node
    {
        public override bool IsConstant => a.IsConstant && b.IsConstant;

        public override long Eval(IReadOnlyDictionary<string, long> s)
        {
            long x = a.Eval(s), y = b.Eval(s);
            return op switch
            {
                '+' => checked(x + y),
                '-' => checked(x - y),
                '*' => checked(x * y),
                _ => y <= 0 ? throw new DivideByZeroException($"dimension divisor {y} must be positive") : (x / y) - ((x % y != 0 && x < 0) ? 1 : 0),
            };
        }

        public override void Collect(SortedSet<string> set)
        {
            a.Collect(set);
            b.Collect(set);
        }
    }

    private sealed class Parser(string text)
    {
        public int Pos;

        public bool AtEnd => Pos >= text.Length;

        public void SkipSpaces()
        {
            while (Pos < text.Length && text[Pos] == ' ') Pos++;
        }

        private bool Eat(string s)
        {
            SkipSpaces();
            if (string.CompareOrdinal(text, Pos, s, 0, s.Length) == 0)
            {
                Pos += s.Length;
                return true;
            }

            return false;
        }

        /// <summary>
        /// Parses <c>expr := ['-'] term (('+' | '-') term)*</c>, <c>term := factor ('*' factor)*</c>,
        /// <c>factor := '(' expr ')' '//' number | number | symbol</c> (a leading <c>-digits</c> is a negative number) with an
        /// explicit stack of open parentheses instead of recursion.
        /// </summary>
        public Node ParseExpr()
        {
            var stack = new Stack<Frame>();
            var frame = new Frame();
            bool exprStart = true;
            while (true)
            {
                // A factor.
                SkipSpaces();
                Node factor;
                if (exprStart && Pos + 1 < text.Length && text[Pos] == '-' && char.IsAsciiDigit(text[Pos + 1]))
                {
                    int start = Pos++;
                    while (Pos < text.Length && char.IsAsciiDigit(text[Pos])) Pos++;
                    factor = new ConstNode(long.TryParse(text.AsSpan(start, Pos - start), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v)
                        ? v
                        : throw Error("number out of range"));
                }
                else
                {
                    if (exprStart && Eat("-")) frame.NegateTerm = true;
                    exprStart = false;
                    if (Eat("("))
                    {
                        stack.Push(frame);
                        frame = new Frame();
                        exprStart = true;
                        continue;
                    }

                    factor = ParseAtom();
                }

                exprStart = false;
                while (true)
                {
                    frame.Term = frame.Term is null ? factor : new BinNode('*', frame.Term, factor);
                    SkipSpaces();
                    if (Pos < text.Length && text[Pos] == '*')
                    {
                        Pos++;
                        break;
                    }

                    // The term ends.
                    var term = frame.NegateTerm ? new BinNode('-', new ConstNode(0), frame.Term) : frame.Term;
                    frame.Sum = frame.Sum is null ? term : new BinNode(frame.SumOp, frame.Sum, term);
                    frame.Term = null;
                    frame.NegateTerm = false;
                    if (Eat("+") || Eat("-"))
                    {
                        frame.SumOp = text[Pos - 1];
                        break;
                    }

                    if (stack.Count == 0) return frame.Sum;
                    if (!Eat(")")) throw Error("expected ')'");
                    if (!Eat("//")) throw Error("expected '//' after a parenthesized expression");
                    SkipSpaces();
                    factor = new BinNode('/', frame.Sum, new ConstNode(ParseNumber()));
                    frame = stack.Pop();
                }
            }
        }

        private Node ParseAtom()
        {
            if (Pos < text.Length && char.IsAsciiDigit(text[Pos]))
            {
                return new ConstNode(ParseNumber());
            }

            int start = Pos;
            while (Pos < text.Length && (char.IsLetterOrDigit(text[Pos]) || text[Pos] is '_' or '.' or '$' or '\''))
            {
                Pos++;
            }

            if (Pos == start) throw Error("expected a number, a symbol or '('");
            return new SymNode(text[start..Pos]);
        }

        private long ParseNumber()
        {
            int start = Pos;
            while (Pos < text.Length && char.IsAsciiDigit(text[Pos])) Pos++;
            if (Pos == start) throw Error("expected a number");
            return long.TryParse(text.AsSpan(start, Pos - start), NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : throw Error("number out of range");
        }

        private sealed class Frame
        {
            public Node? Sum;
            public char SumOp = '+';
            public Node? Term;
            public bool NegateTerm;
        }

        private FormatException Error(string what) => new($"dimension expression '{text}': {what} at {Pos}");
    }
}
