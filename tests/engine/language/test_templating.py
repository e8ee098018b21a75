from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import TemplateSyntaxError

from engine.language.templating import (
    References,
    TemplateNameError,
    TemplateProblem,
    TemplateRenderError,
    TemplateStore,
    _parsed_references,
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
