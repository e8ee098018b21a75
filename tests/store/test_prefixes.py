"""Ids typed by a person: a unique prefix is enough, an ambiguous one names the candidates."""

from __future__ import annotations

import pytest
from sqlmodel import Session, col

from store.errors import NotFound
from store.models.runs import RuleRun
from store.prefixes import AmbiguousId, PrefixTooShort, resolve_prefix, resolve_prefixes

IDS = ("3f2a9c1d-0000-4000-8000-000000000001", "3f2a9c1d-0000-4000-8000-000000000002",
       "3f2b0000-0000-4000-8000-000000000003", "abcd", "abcd_x%y")


@pytest.fixture
def runs(session: Session) -> Session:
    for run_id in IDS:
        session.add(RuleRun(id=run_id, rule_id="r"))
    session.commit()
    return session


def resolve(session: Session, typed: str) -> str:
    return resolve_prefix(session, col(RuleRun.id), typed, "rule_run")


def test_a_unique_prefix_gives_the_whole_id(runs: Session) -> None:
    assert resolve(runs, "3f2b") == IDS[2]
    assert resolve(runs, "3f2a9c1d-0000-4000-8000-000000000002") == IDS[1]


def test_an_exact_id_wins_over_longer_ids_that_start_with_it(runs: Session) -> None:
    assert resolve(runs, "abcd") == "abcd"


def test_an_ambiguous_prefix_is_refused_naming_the_candidates(runs: Session) -> None:
    with pytest.raises(AmbiguousId) as caught:
        resolve(runs, "3f2a")
    assert caught.value.candidates == list(IDS[:2])
    assert str(caught.value) == (f"rule_run '3f2a' is ambiguous: it starts {IDS[0]}, {IDS[1]}; "
                                 "type more characters")


def test_an_unknown_prefix_is_not_found(runs: Session) -> None:
    with pytest.raises(NotFound, match="rule_run 'ffff' not found"):
        resolve(runs, "ffff")


def test_a_prefix_under_four_characters_is_not_found_and_says_why(runs: Session) -> None:
    with pytest.raises(PrefixTooShort) as caught:
        resolve(runs, "3f2")
    assert isinstance(caught.value, NotFound)
    assert str(caught.value) == "rule_run '3f2' not found (an id prefix needs at least 4 characters)"


@pytest.mark.parametrize("typed", ["abc%", "abcd_", "____", "%%%%"])
def test_like_wildcards_in_what_was_typed_match_only_themselves(runs: Session, typed: str) -> None:
    if typed == "abcd_":
        assert resolve(runs, typed) == "abcd_x%y"
        return
    with pytest.raises(NotFound):
        resolve(runs, typed)


def test_conditions_narrow_the_rows_searched(runs: Session) -> None:
    only_skipped = col(RuleRun.status) == "skipped"
    with pytest.raises(NotFound):
        resolve_prefix(runs, col(RuleRun.id), "3f2b", "rule_run", only_skipped)


def test_several_ids_resolve_in_order_and_one_bad_one_fails_them_all(runs: Session) -> None:
    assert resolve_prefixes(runs, col(RuleRun.id), ["3f2b", "abcd"], "rule_run") == [IDS[2], "abcd"]
    with pytest.raises(AmbiguousId):
        resolve_prefixes(runs, col(RuleRun.id), ["3f2b", "3f2a"], "rule_run")
