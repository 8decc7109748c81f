using System.Collections.Immutable;
using System.Globalization;
using System.Text;

namespace Candle.Compiler.Ir;

/// <summary>
/// A tensor dimension: a constant or a polynomial with integer coefficients over named symbols
/// (such as <c>batch</c> or <c>seq</c>) and floor divisions of such polynomials by constants.
/// Dims are kept in a canonical sum-of-products form, so <c>(seq + 1) - 1</c> equals <c>seq</c>
/// and <c>2*seq</c> equals <c>seq + seq</c>.
/// </summary>
public sealed class Dim : IEquatable<Dim>
{
    private static readonly ImmutableArray<Term> NoTerms = ImmutableArray<Term>.Empty;
    private readonly long _constant;
    private readonly ImmutableArray<Term> _terms; // sorted by key, nonzero coefficients
    private readonly string _text;

    private Dim(long constant, ImmutableArray<Term> terms)
    {
        _constant = constant;
        _terms = terms;
        _text = Render();
    }

    /// <summary>A constant dimension.</summary>
    public static Dim Of(long value) => value switch
    {
        0 => Zero,
        1 => One,
        _ => new Dim(value, NoTerms),
    };

    /// <summary>The constant 0.</summary>
    public static Dim Zero { get; } = new(0, NoTerms);

    /// <summary>The constant 1.</summary>
    public static Dim One { get; } = new(1, NoTerms);

    /// <summary>A named symbol, bound to a value at run time.</summary>
    public static Dim Sym(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var atom = new Atom(name, null, 0);
        return new Dim(0, [new Term(1, [atom])]);
    }

    /// <summary>Converts a constant.</summary>
    public static implicit operator Dim(long value) => Of(value);

    /// <summary>Converts a constant.</summary>
    public static implicit operator Dim(int value) => Of(value);

    /// <summary>True when the dimension has no symbols.</summary>
    public bool IsConstant => _terms.IsEmpty;

    /// <summary>The value of a constant dimension.</summary>
    /// <exception cref="InvalidOperationException">The dimension is symbolic.</exception>
    public long Value => IsConstant ? _constant : throw new InvalidOperationException($"dimension '{this}' is symbolic");

    /// <summary>The value if constant, else null.</summary>
    public long? TryGetConstant() => IsConstant ? _constant : null;

    /// <summary>The symbol names this dimension mentions.</summary>
    public IEnumerable<string> Symbols
    {
        get
        {
            foreach (var t in _terms)
            {
                foreach (var a in t.Factors)
                {
                    if (a.Symbol is not null)
                    {
                        yield return a.Symbol;
                    }
                    else
                    {
                        foreach (var s in a.Numerator!.Symbols)
                        {
                            yield return s;
                        }
                    }
                }
            }
        }
    }

    /// <summary>Evaluates the dimension with symbols bound by <paramref name="bindings"/>.</summary>
    /// <exception cref="KeyNotFoundException">A symbol is not bound.</exception>
    public long Evaluate(IReadOnlyDictionary<string, long> bindings)
    {
        long sum = _constant;
        foreach (var t in _terms)
        {
            long prod = t.Coefficient;
            foreach (var a in t.Factors)
            {
                long v;
                if (a.Symbol is not null)
                {
                    if (!bindings.TryGetValue(a.Symbol, out v))
                    {
                        throw new KeyNotFoundException($"symbolic dimension '{a.Symbol}' has no value");
                    }
                }
                else
                {
                    v = FloorDivide(a.Numerator!.Evaluate(bindings), a.Divisor);
                }

                prod = checked(prod * v);
            }

            sum = checked(sum + prod);
        }

        return sum;
    }

    /// <summary>The runtime's expression of this dimension, built from its terms (what plans store and evaluate).</summary>
    public Runtime.Plans.DimExpr ToExpr()
    {
        if (IsConstant) return Runtime.Plans.DimExpr.Const(_constant);
        var terms = _terms.Select(t => (t.Coefficient, (IReadOnlyList<Runtime.Plans.DimExpr>)[.. t.Factors.Select(a => a.Symbol is { } s
            ? Runtime.Plans.DimExpr.Sym(s)
            : Runtime.Plans.DimExpr.FloorDiv(a.Numerator!.ToExpr(), a.Divisor))])).ToList();
        return Runtime.Plans.DimExpr.Polynomial(_constant, terms);
    }

    /// <summary>Sum.</summary>
    public static Dim operator +(Dim a, Dim b)
    {
        if (b.IsConstant && b._constant == 0) return a;
        if (a.IsConstant && a._constant == 0) return b;
        var map = new SortedDictionary<string, Term>(StringComparer.Ordinal);
        foreach (var t in a._terms) Accumulate(map, t);
        foreach (var t in b._terms) Accumulate(map, t);
        return Make(checked(a._constant + b._constant), map);
    }

    /// <summary>Difference.</summary>
    public static Dim operator -(Dim a, Dim b) => a + (b * -1);

    /// <summary>Negation.</summary>
    public static Dim operator -(Dim a) => a * -1;

    /// <summary>Product.</summary>
    public static Dim operator *(Dim a, Dim b)
    {
        if (a.IsConstant && b.IsConstant) return Of(checked(a._constant * b._constant));
        var map = new SortedDictionary<string, Term>(StringComparer.Ordinal);
        long constant = checked(a._constant * b._constant);
        foreach (var ta in a.AllTerms())
        {
            foreach (var tb in b.AllTerms())
            {
                if (ta.Factors.IsEmpty && tb.Factors.IsEmpty) continue;
                var factors = ta.Factors.AddRange(tb.Factors).Sort(AtomComparer.Instance);
                Accumulate(map, new Term(checked(ta.Coefficient * tb.Coefficient), factors));
            }
        }

        return Make(constant, map);
    }

    /// <summary>Floor division by a positive constant.</summary>
    public static Dim operator /(Dim a, long divisor)
    {
        if (divisor <= 0) throw new ArgumentOutOfRangeException(nameof(divisor), divisor, "dimension divisor must be positive");
        if (divisor == 1) return a;
        if (a.IsConstant) return Of(FloorDivide(a._constant, divisor));
        if (a._constant % divisor == 0 && a._terms.All(t => t.Coefficient % divisor == 0))
        {
            return new Dim(a._constant / divisor, [.. a._terms.Select(t => t with { Coefficient = t.Coefficient / divisor })]);
        }

        return new Dim(0, [new Term(1, [new Atom(null, a, divisor)])]);
    }

    /// <summary>True when <c>this</c> is a known multiple of <paramref name="divisor"/>.</summary>
    public bool IsDivisibleBy(long divisor) =>
        divisor > 0 && _constant % divisor == 0 && _terms.All(t => t.Coefficient % divisor == 0);

    private IEnumerable<Term> AllTerms()
    {
        yield return new Term(_constant, []);
        foreach (var t in _terms) yield return t;
    }

    private static long FloorDivide(long a, long b) => (a / b) - ((a % b != 0 && (a < 0) != (b < 0)) ? 1 : 0);

    private static void Accumulate(SortedDictionary<string, Term> map, Term t)
    {
        string key = t.Key;
        map[key] = map.TryGetValue(key, out var existing)
            ? existing with { Coefficient = checked(existing.Coefficient + t.Coefficient) }
            : t;
    }

    private static Dim Make(long constant, SortedDictionary<string, Term> map)
    {
        var terms = map.Values.Where(t => t.Coefficient != 0).ToImmutableArray();
        return terms.IsEmpty ? Of(constant) : new Dim(constant, terms);
    }

    /// <inheritdoc/>
    public bool Equals(Dim? other) => other is not null && other._text == _text;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Dim d && Equals(d);

    /// <inheritdoc/>
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(_text);

    /// <summary>Structural equality.</summary>
    public static bool operator ==(Dim? a, Dim? b) => a is null ? b is null : a.Equals(b);

    /// <summary>Structural inequality.</summary>
    public static bool operator !=(Dim? a, Dim? b) => !(a == b);

    /// <inheritdoc/>
    public override string ToString() => _text;

    private string Render()
    {
        if (_terms.IsEmpty) return _constant.ToString(CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        foreach (var t in _terms)
        {
            string body = t.Key;
            if (sb.Length == 0)
            {
                sb.Append(t.Coefficient switch { 1 => body, -1 => "-" + body, _ => $"{t.Coefficient}*{body}" });
            }
            else
            {
                long c = Math.Abs(t.Coefficient);
                sb.Append(t.Coefficient < 0 ? " - " : " + ").Append(c == 1 ? body : $"{c}*{body}");
            }
        }

        if (_constant != 0)
        {
            sb.Append(_constant < 0 ? " - " : " + ").Append(Math.Abs(_constant).ToString(CultureInfo.InvariantCulture));
        }

        return sb.ToString();
    }

    private sealed record Atom(string? Symbol, Dim? Numerator, long Divisor)
    {
        public string Key => Symbol ?? $"({Numerator})//{Divisor.ToString(CultureInfo.InvariantCulture)}";
    }

    private sealed class AtomComparer : IComparer<Atom>
    {
        public static readonly AtomComparer Instance = new();

        public int Compare(Atom? x, Atom? y) => string.CompareOrdinal(x!.Key, y!.Key);
    }

    private sealed record Term(long Coefficient, ImmutableArray<Atom> Factors)
    {
        public string Key => string.Join("*", Factors.Select(f => f.Key));
    }
}
