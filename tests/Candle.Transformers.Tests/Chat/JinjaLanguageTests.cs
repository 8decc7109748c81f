using Candle.Transformers.Chat;
using Candle.Transformers.Chat.Templates;

namespace Candle.Transformers.Tests.Chat;

/// <summary>Language details checked against what Python's jinja2 3.1 prints for the same source (values noted from jinja2).</summary>
public sealed class JinjaLanguageTests
{
    private static string R(string template, Dictionary<string, object?>? vars = null) =>
        ChatTemplate.Parse(template).Render(vars ?? [], new DateTime(2026, 12, 4, 9, 30, 0));

    [Theory]
    [InlineData("{% set x = 1 %}{% for i in range(3) %}{{ x }}{% set x = x + 1 %}{{ x }}|{% endfor %}{{ x }}", "12|12|12|1")]
    [InlineData("{% macro m(a, b=a+1) %}{{a}}{{b}}{{varargs}}{{kwargs}}{% endmacro %}{{ m(1) }} {{ m(1,2,3,c=4) }}", "12(){} 12(3,){'c': 4}")]
    [InlineData("{{ [1,2,3][::-1] }} {{ (1,) }} {{ 1e20 }} {{ 0.00001 }} {{ 1/3 }} {{ 10/2 }}", "[3, 2, 1] (1,) 1e+20 1e-05 0.3333333333333333 5.0")]
    [InlineData("{{ \"%s-%05.2f\" % (\"a\", 3.14159) }} {{ \"hello world-foo\"|title }} {{ \" a b \".split() }}", "a-03.14 Hello World-Foo ['a', 'b']")]
    [InlineData("{{ \"a\" ~ 1 ~ none }} {{ -2 ** 2 }} {{ 7 // -2 }} {{ -7 % 3 }}", "a1None 4 -4 2")]
    [InlineData("{% for a in [] %}x{% else %}empty{% endfor %}|{{ \"x\" if false }}|{{ none.x }}", "empty||")]
    [InlineData("{{ [3,1,2]|sort|first }} {{ {\"b\":1,\"a\":2}|dictsort }} {{ 2.5|round }} {{ '3'|int + 1 }}", "1 [('a', 2), ('b', 1)] 2.0 4")]
    [InlineData("{% set ns = namespace(n=0) %}{% for i in range(5) %}{% if i is odd %}{% continue %}{% endif %}{% if i > 3 %}{% break %}{% endif %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}", "2")]
    [InlineData("{{ {'a': 'é', 'b': [1, 2.5, none, true]}|tojson }} {{ [1]|tojson(indent=2) }}", "{\"a\": \"é\", \"b\": [1, 2.5, null, true]} [\n  1\n]")]
    [InlineData("{%- for m in msgs if m != 'b' -%}{{ loop.index }}{{ m }}{{ '|' if not loop.last }}{%- endfor %}", "1a|2c")]
    [InlineData("{% macro outer() %}<{{ caller(7) }}>{% endmacro %}{% call(x) outer() %}[{{ x }}]{% endcall %}", "<[7]>")]
    [InlineData("{% filter upper %}ab{% endfilter %}{% set s %}x{{ 1 }}{% endset %}{{ s }}", "ABx1")]
    [InlineData("{{ strftime_now('%d %b %Y %-d %H:%M') }}", "04 Dec 2026 4 09:30")]
    [InlineData("  {% if true %}\n  x\n  {% endif %}\n", "  x\n")]
    public void Matches_jinja2(string template, string expected)
    {
        var vars = new Dictionary<string, object?> { ["msgs"] = new[] { "a", "b", "c" } };
        Assert.Equal(expected, R(template, vars));
    }

    [Fact]
    public void Raise_exception_message_is_kept()
    {
        var e = Assert.Throws<TemplateException>(() => R("{{ raise_exception('Roles must alternate') }}"));
        Assert.Equal("Roles must alternate", e.Message);
        Assert.True(e.RaisedByTemplate);
    }

    [Theory]
    [InlineData("{% if x %}")]
    [InlineData("{{ 1 + }}")]
    [InlineData("{% foo %}")]
    [InlineData("{{ 'abc }}")]
    public void Syntax_errors_name_the_line(string template)
    {
        var e = Assert.Throws<TemplateException>(() => ChatTemplate.Parse(template));
        Assert.StartsWith("line 1:", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{% set x = [] %}{{ x.append(1) }}")]
    [InlineData("{{ ''.__class__ }}{{ x.y.z }}")]
    [InlineData("{{ range(1000000)|length }}")]
    [InlineData("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}")]
    public void Sandbox_refuses_mutation_reflection_and_runaway(string template) =>
        Assert.Throws<TemplateException>(() => R(template));

    [Theory]
    [InlineData("{% set ns = namespace(s='a') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}", "exceeds the sandbox's limit")]
    [InlineData("{% set ns = namespace(s='a') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", "exceeds the sandbox's limit")]
    [InlineData("{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", "exceeds the sandbox's limit")]
    [InlineData("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "steps, the sandbox's limit")]
    public void Sandbox_bounds_the_memory_and_time_a_template_can_take(string template, string message)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long before = GC.GetTotalAllocatedBytes();
        var e = Assert.Throws<TemplateException>(() => R(template));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.StartsWith("line 1:", e.Message, StringComparison.Ordinal);
        // Doubling to 2^40 characters or items, or 10^10 loop iterations, is refused long before it completes.
        Assert.True(GC.GetTotalAllocatedBytes() - before < 1L << 30, "the template allocated over 1 GiB before it was stopped");
    }

    [Fact]
    public void Apply_renders_turns()
    {
        var t = ChatTemplate.Parse("{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}");
        string s = t.Apply([new ChatTurn("user", "hi"), new ChatTurn("assistant", "yo")], addGenerationPrompt: true, bosToken: "<s>");
        Assert.Equal("<s><user>hi<assistant>yo<assistant>", s);
    }
}
