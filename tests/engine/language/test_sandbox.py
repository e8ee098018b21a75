"""The render limits: each growth path is refused before it builds, loops and output are counted."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.language import render_limits
from engine.language.render_limits import MAX_ITEMS, MAX_ITERATIONS, MAX_TEXT
from engine.language.templating import TemplateRenderError, TemplateStore, compile_value
from tests.conftest import write

DATA = {"data": {"xs": list(range(20_000)), "s": "abc", "n": 10**9}}


def refused(source: str, context: dict | None = None) -> str:
    with pytest.raises(TemplateRenderError) as caught:
        compile_value(source).render(context or DATA)
    assert caught.value.code == "template_limit", caught.value
    return str(caught.value)


@pytest.mark.parametrize("source", [
    "{{ ('A'*10**7)*100 }}",
    "{{ data.s * data.n }}",
    "{{ 'a'|center(10**9) }}",
    "{{ 'a'.ljust(10**9) }}",
    "{{ 'a'.zfill(10**9) }}",
    "{{ ('x\t'*100).expandtabs(10**9) }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ '%999999999d' % 1 }}",
    "{{ '%-999999999s'|format(1) }}",
    "{{ 'x'|indent(10**9, true) }}",
    "{{ ('ab'*500000)|replace('', 'xxxxxxxxxx') }}",
    "{{ ('ab'*500000).replace('a', 'xxxxxxxxxx') }}",
    "{{ ('x'*1000000).join(range(100000)) }}",
    "{{ range(100000)|join('x'*1000000) }}",
])
def test_a_string_past_the_size_limit_is_refused_before_it_is_built(source: str) -> None:
    assert f"at most {MAX_TEXT} are allowed" in refused(source)


@pytest.mark.parametrize("source", [
    "{{ [1]*10**8 }}",
    "{{ range(10**9)|list|length }}",
    "{{ [1]|batch(10**9, 0)|list }}",
    "{{ [1]|slice(10**8)|list }}",
    "{{ ([[1]*1000]*1000)|sum(start=[])|length }}",
])
def test_a_list_past_the_item_limit_is_refused_before_it_is_built(source: str) -> None:
    assert f"at most {MAX_ITEMS} are allowed" in refused(source)


def test_a_huge_power_is_refused() -> None:
    assert "bits" in refused("{{ 10**(10**10) }}")


def test_a_width_taken_from_the_arguments_is_refused() -> None:
    refused("{{ '%*d' % (10**9, 1) }}")
    refused("{{ '{:{w}}'.format(1, w=10**9) }}")


def test_nested_loops_over_a_big_payload_stop_at_the_iteration_limit() -> None:
    message = refused("{% for a in data.xs %}{% for b in data.xs %}{% endfor %}{% endfor %}")
    assert f"more than {MAX_ITERATIONS} times" in message


def test_doubling_a_string_through_a_namespace_stops_at_the_size_limit() -> None:
    refused("{% set ns = namespace(s='a') %}{% for i in range(80) %}{% set ns.s = ns.s ~ ns.s %}"
            "{% endfor %}{{ ns.s|length }}")
    refused("{% macro f(s, n) %}{{ f(s ~ s, n - 1) if n else s|length }}{% endmacro %}{{ f('a', 60) }}")


def test_output_captured_in_a_block_counts_against_the_output_limit() -> None:
    message = refused("{% set x %}{% for i in range(100000) %}{{ 'y' * 1000 }}{% endfor %}{% endset %}"
                      "{{ x|length }}")
    assert "emitted more than" in message


def test_endless_recursion_is_an_error_not_a_crash() -> None:
    with pytest.raises(TemplateRenderError, match="nested too deeply"):
        compile_value("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").render({})


def test_lipsum_is_not_available() -> None:
    with pytest.raises(TemplateRenderError, match="'lipsum' is undefined"):
        compile_value("{{ lipsum(10**7) }}").render({})


def test_a_render_past_its_deadline_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render_limits, "RENDER_SECONDS", 0.05)
    slow = ("{% for a in range(300) %}{% for b in data.xs %}{{ '' if b in data.xs[:1] }}{% endfor %}"
            "{% endfor %}")
    started = time.monotonic()
    message = refused(slow, {"data": {"xs": list(range(300))}})
    assert "rendering took more than 0.05 s" in message
    assert time.monotonic() - started < 30  # a generous bound: only a hang fails here


def test_ordinary_templates_render_as_before() -> None:
    value = compile_value({"text": "Ola {{ data.s|upper }}: {% for x in data.xs[:3] %}{{ x }},{% endfor %}",
                           "n": "{{ data.xs|length * 2 }}",
                           "pad": "{{ '%05d' % 42 }} {{ '{:>6}'.format('a') }}",
                           "joined": "{{ data.xs[:4]|join('-') }} {{ 'ab' ~ 'cd' }} {{ 'x' * 3 }}"})
    assert value.render(DATA) == {"text": "Ola ABC: 0,1,2,", "n": "40000", "pad": "00042      a",
                                  "joined": "0-1-2-3 abcd xxx"}


def test_a_message_template_file_is_bounded_too(tmp_path: Path) -> None:
    write(tmp_path / "sms" / "big.txt", "{{ 'a' * 10**9 }}")
    with pytest.raises(TemplateRenderError) as caught:
        TemplateStore(tmp_path).render("sms", "big", {})
    assert caught.value.code == "template_limit" and "sms/big.txt" in str(caught.value)


def test_a_template_nested_past_the_parser_is_a_problem_at_load() -> None:
    errors: list = []
    compile_value("{{ " + "(" * 2000 + "1" + ")" * 2000 + " }}", ("to",), errors)
    [(path, problem)] = errors
    assert path == ("to",) and "nested too deeply" in str(problem)
