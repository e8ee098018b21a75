from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import TemplateSyntaxError

from engine.language import render_limits
from engine.language.templating import (
    References,
    TemplateNameError,
    TemplateProblem,
    TemplateRenderError,
    TemplateStore,
    TemplateString,
    _compiled,
    _parsed_references,
    _plain_substitution,
    compile_value,
    references,
    value_references,
)
from tests.conftest import write


def test_params_render_recursively_and_keep_non_strings() -> None:
    value = compile_value({"to": "{{ data.phone }}", "list": ["{{ data.n * 2 }}", 3], "flag": True})
    assert value.render({"data": {"phone": "+55", "n": 2}}) == {"to": "+55", "list": ["4", 3], "flag": True}


def test_undefined_variable_is_an_error_never_an_empty_string() -> None:
    value = compile_value("Olá {{ data.customer.nome }}")
    with pytest.raises(TemplateRenderError) as caught:
        value.render({"data": {"customer": {"name": "Ana"}}})
    assert "has no attribute 'nome'" in str(caught.value)


def test_sandbox_refuses_reaching_python_internals() -> None:
    value = compile_value("{{ data.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(TemplateRenderError):
        value.render({"data": {}})


def test_syntax_errors_are_collected_with_their_path() -> None:
    errors: list = []
    compile_value({"body": "{{ data.x "}, ("p",), errors)
    ((path, problem),) = errors
    assert path == ("p", "body")
    assert isinstance(problem, TemplateProblem)


def test_references_find_variables_and_step_ids() -> None:
    refs = references("{{ steps.assign.name }} {{ steps['tell'].sid }} {{ data.x }}")
    assert refs.variables == {"steps", "data"}
    assert refs.steps == {"assign", "tell"}
    assert value_references(compile_value({"a": ["{{ now }}"]})).variables == {"now"}


def test_brazilian_filters() -> None:
    value = compile_value("{{ data.v | brl }} em {{ data.d | data_br }} {{ data.p | telefone_br }}")
    rendered = value.render({"data": {"v": 1234.5, "d": "2026-12-01T12:00:00Z", "p": "+5511987654321"}})
    assert rendered == "R$ 1.234,50 em 01/12/2026 (11) 98765-4321"


def test_store_renders_every_part_and_escapes_html_only(tmp_path: Path) -> None:
    write(tmp_path / "email/oi.subject", "Oi {{ data.name }}")
    write(tmp_path / "email/oi.txt", "Texto {{ data.name }}")
    write(tmp_path / "email/oi.html", "<p>{{ data.name }}</p>")
    store = TemplateStore(tmp_path)
    rendered = store.render("email", "oi", {"data": {"name": "<Ana & Bia>"}})
    assert rendered == {"subject": "Oi <Ana & Bia>", "text": "Texto <Ana & Bia>",
                        "html": "<p>&lt;Ana &amp; Bia&gt;</p>"}


def test_store_check_reports_missing_parts_syntax_and_unknown_variables(tmp_path: Path) -> None:
    write(tmp_path / "email/a.txt", "only text")
    write(tmp_path / "sms/b.txt", "line one\n{{ data.x ")
    write(tmp_path / "sms/c.txt", "Ola\n{{ cliente.nome }}")
    store = TemplateStore(tmp_path)
    assert [str(p) for p in store.check("email", "a")] == ["template 'a' has no .subject part"]
    (syntax,) = store.check("sms", "b")
    assert (syntax.line, syntax.file) == (2, str(tmp_path / "sms/b.txt"))
    (unknown,) = store.check("sms", "c")
    assert unknown.line == 2 and "unknown variable 'cliente'" in str(unknown)
    assert "not found" in str(store.check("whatsapp", "zzz")[0])


@pytest.mark.parametrize("name", ["/etc/passwd", "../../var/api/jwt", "sub/../../x", "a\\b", "a\nb", ""])
def test_a_template_name_leading_out_of_its_folder_is_refused_when_rendered(tmp_path: Path,
                                                                           name: str) -> None:
    write(tmp_path / "var/api/jwt.txt", "secret")
    with pytest.raises(TemplateNameError, match="template name"):
        TemplateStore(tmp_path / "templates").render("sms", name, {})


def test_a_template_file_that_is_a_symlink_out_of_its_folder_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "secret.txt", "k1:secret")
    (tmp_path / "templates/sms").mkdir(parents=True)
    (tmp_path / "templates/sms/aviso.txt").symlink_to(tmp_path / "secret.txt")
    store = TemplateStore(tmp_path / "templates")
    with pytest.raises(TemplateNameError, match="leads out of"):
        store.render("sms", "aviso", {})
    assert "leads out of" in str(store.check("sms", "aviso")[0])


def test_a_template_in_a_subfolder_of_its_channel_is_found(tmp_path: Path) -> None:
    write(tmp_path / "sms/lembretes/visita.txt", "Ola")
    assert TemplateStore(tmp_path).render("sms", "lembretes/visita", {}) == {"text": "Ola"}


def test_layout_files_are_not_listed_as_templates(tmp_path: Path) -> None:
    write(tmp_path / "email/_layout.html", "<html>{% block body %}{% endblock %}</html>")
    write(tmp_path / "email/oi.subject", "s")
    assert TemplateStore(tmp_path).names("email") == ["oi"]


def test_date_filter_on_a_missing_field_names_the_field() -> None:
    value = compile_value("{{ data.appointment.starts_at | data_br }}")
    with pytest.raises(TemplateRenderError) as caught:
        value.render({"data": {"appointment": {}}})
    assert "starts_at" in str(caught.value)


# Whole substitutions, so most sources take the fast path, and the bits that turn one into
# something else (filters, blocks, keywords, stray braces, whitespace control).
_PIECES = ["{{ data.x }}", "{{steps.a.b}}", "{{ steps }}", "{{ x_1.y }}", "{{ true }}", "{{ not }}",
           "{{", "}}", "{%", "{#", "{", "}", " ", ".", "-", "|", "\n", "data", "steps", "x_1", "0", "Olá "]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=14).map("".join))
def test_plain_substitutions_read_the_same_references_as_jinja_parses(source: str) -> None:
    try:
        parsed: References | None = _parsed_references(source)
    except TemplateSyntaxError:
        parsed = None
    try:
        analyzed: References | None = references(source)
    except TemplateSyntaxError:
        analyzed = None
    assert analyzed == parsed


# --- plain substitutions rendered without Jinja -----------------------------------------------

_PLAIN_CONTEXT: dict = {
    "data": {
        "name": "Ana", "empty": "", "n": 42, "neg": -7, "big": 10**30, "price": 19.9, "tiny": 1e-7,
        "none": None, "yes": True, "no": False, "list": [1, "a", None], "tuple": (1, 2),
        "customer": {"name": "Bia", "address": {"city": "São Paulo", "zip": "01000-000"}},
        "when": datetime(2026, 12, 1, 12, 30, tzinfo=UTC), "day": date(2026, 12, 1),
        "amount": Decimal("1234.50"), "lines": "linha 1\nlinha 2\n", "crlf_value": "a\r\nb",
        "braces": "{{ data.name }} }} {% x %}", "unicode": "ção ✓ 😀", "spaces": "  a  ",
    },
    "steps": {"assign": {"name": "Caio", "result": {"id": 7}}},
    "rule": {"id": "r1"},
    "now": datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
}

_PLAIN_TEMPLATES = [
    "{{ data.name }}", "{{data.name}}", "{{   data.name   }}", "Olá {{ data.name }}!",
    "{{ data.name }}{{ data.n }}", "{{ data.name }} e {{ steps.assign.name }}", "{{ data.empty }}",
    "{{ data.n }}", "{{ data.neg }}", "{{ data.big }}", "{{ data.price }}", "{{ data.tiny }}",
    "{{ data.none }}", "{{ data.yes }}/{{ data.no }}", "{{ data.list }}", "{{ data.tuple }}",
    "{{ data.customer }}", "{{ data.customer.address }}", "{{ data.customer.address.city }}",
    "{{ data.when }}", "{{ data.day }}", "{{ data.amount }}", "{{ data.lines }}",
    "{{ data.lines }}\n", "antes\n{{ data.lines }}\ndepois", "{{ data.braces }}", "{{ data.unicode }}",
    "[{{ data.spaces }}]", "a }} b {{ data.name }}", "{ {{ data.name }} }", "{ x } {{ data.n }} }}",
    "}}{{ data.name }}{ ", "{{ steps.assign.result.id }}", "{{ steps.assign.result }}",
    "{{ rule.id }}: {{ now }}", "{{ now }}", "\n{{ data.name }}\n", "{{ data.name }}\n\n",
    "   {{ data.name }}   ", "tab\t{{ data.n }}\tend", "{{ data.crlf_value }}",
]


@pytest.mark.parametrize("source", _PLAIN_TEMPLATES)
def test_plain_substitution_renders_what_jinja_renders(source: str) -> None:
    plain = _plain_substitution(source)
    assert plain is not None, f"{source!r} should take the plain path"
    assert plain.render(_PLAIN_CONTEXT) == _compiled(source).render(_PLAIN_CONTEXT), source
    assert TemplateString(source).render(_PLAIN_CONTEXT) == _compiled(source).render(_PLAIN_CONTEXT)


def test_plain_substitution_drops_one_trailing_newline_like_jinja() -> None:
    source = "Olá {{ data.name }}\n"
    context = {"data": {"name": "Ana"}}
    plain = _plain_substitution(source)
    assert plain is not None
    assert plain.render(context) == "Olá Ana" == _compiled(source).render(context)
    assert TemplateString(source).render(context) == "Olá Ana"


def test_a_key_that_is_also_a_dict_method_is_left_to_jinja() -> None:
    source = "{{ data.items }}"
    context = {"data": {"items": "três itens"}}
    plain = _plain_substitution(source)
    assert plain is not None and plain.render(context) is None
    rendered = TemplateString(source).render(context)
    assert rendered == _compiled(source).render(context)
    assert rendered != "três itens"  # Jinja reads the attribute (the method) before the key


def test_an_index_into_a_list_is_left_to_jinja() -> None:
    source = "{{ data.list.0 }}"
    context = {"data": {"list": ["primeiro", "segundo"]}}
    assert _plain_substitution(source) is None
    assert TemplateString(source).render(context) == "primeiro" == _compiled(source).render(context)


def test_a_list_in_the_middle_of_a_path_is_left_to_jinja() -> None:
    source = "{{ data.list.first }}"
    context = {"data": {"list": ["a"]}}
    plain = _plain_substitution(source)
    assert plain is not None and plain.render(context) is None
    with pytest.raises(TemplateRenderError):
        TemplateString(source).render(context)


def test_a_missing_name_is_left_to_jinja_and_is_still_an_error() -> None:
    source = "Olá {{ missing }}"
    plain = _plain_substitution(source)
    assert plain is not None and plain.render({"data": {}}) is None
    with pytest.raises(TemplateRenderError) as caught:
        TemplateString(source).render({"data": {}})
    assert "missing" in str(caught.value)


def test_a_missing_key_is_left_to_jinja_and_is_still_an_error() -> None:
    source = "{{ data.customer.nome }}"
    context = {"data": {"customer": {"name": "Ana"}}}
    plain = _plain_substitution(source)
    assert plain is not None and plain.render(context) is None
    with pytest.raises(TemplateRenderError, match="nome"):
        TemplateString(source).render(context)


def test_an_attribute_of_an_object_that_is_not_a_dict_is_left_to_jinja() -> None:
    source = "{{ now.year }}"
    context = {"now": datetime(2026, 12, 1, tzinfo=UTC)}
    plain = _plain_substitution(source)
    assert plain is not None and plain.render(context) is None
    assert TemplateString(source).render(context) == "2026" == _compiled(source).render(context)


def test_a_step_in_a_dict_subclass_is_left_to_jinja() -> None:
    source = "{{ data.customer.name }}"
    context = {"data": OrderedDict(customer=OrderedDict(name="Ana"))}
    plain = _plain_substitution(source)
    assert plain is not None and plain.render(context) is None
    assert TemplateString(source).render(context) == "Ana" == _compiled(source).render(context)


@pytest.mark.parametrize("source", ["{{ true }}", "{{ none }}", "{{ None }}", "a {{ False }} b"])
def test_keywords_are_left_to_jinja(source: str) -> None:
    assert _plain_substitution(source) is None
    assert TemplateString(source).render({}) == _compiled(source).render({})


def test_a_source_with_carriage_returns_is_left_to_jinja() -> None:
    source = "Olá {{ data.name }}\r\nTchau\r\n"
    context = {"data": {"name": "Ana"}}
    assert _plain_substitution(source) is None
    rendered = TemplateString(source).render(context)
    assert rendered == _compiled(source).render(context)
    assert rendered == "Olá Ana\nTchau"


def test_a_plain_substitution_past_the_text_limit_is_a_template_limit_error() -> None:
    context = {"data": {"s": "x" * (render_limits.MAX_TEXT + 1)}}
    with pytest.raises(TemplateRenderError) as caught:
        TemplateString("{{ data.s }}").render(context)
    assert caught.value.code == "template_limit"
    with pytest.raises(TemplateRenderError) as through_jinja:
        TemplateString("{{ data['s'] }}").render(context)  # not a plain substitution: Jinja renders
    assert through_jinja.value.code == "template_limit"


def test_a_plain_substitution_within_the_text_limit_renders() -> None:
    text = "x" * render_limits.MAX_TEXT
    assert TemplateString("{{ data.s }}").render({"data": {"s": text}}) == text
