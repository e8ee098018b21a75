from __future__ import annotations

import jsonschema

from engine.language.loader import discover
from engine.language.schema import config_schema, rules_schema, stale_schemas
from engine.language.yamlsafe import load_file
from tests.conftest import REPO


def test_generated_schemas_are_valid_draft_07() -> None:
    jsonschema.Draft7Validator.check_schema(rules_schema())
    jsonschema.Draft7Validator.check_schema(config_schema())


def test_project_rules_satisfy_the_schema_editors_use() -> None:
    validator = jsonschema.Draft7Validator(rules_schema())
    files, _ = discover([REPO / "rules"])
    assert files
    for path in files:
        errors = [e.message for e in validator.iter_errors(load_file(path).data)]
        assert errors == [], path


def test_schema_catches_a_parameter_typo() -> None:
    validator = jsonschema.Draft7Validator(rules_schema())
    doc = {"rules": [{"id": "a", "on": "x.y", "do": [{"sms.send": {"to": "1", "bdy": "x"}}]}]}
    assert list(validator.iter_errors(doc))


def test_example_config_satisfies_the_config_schema() -> None:
    data = load_file(REPO / "config.example.yaml").data
    jsonschema.Draft7Validator(config_schema()).validate(data)


def test_committed_schemas_are_fresh() -> None:
    assert stale_schemas(REPO / "schemas") == []
