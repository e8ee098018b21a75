"""Which rules listen to an event type: an index, never a scan of all rules.

Exact types are a dict lookup; patterns with ``*`` segments live in a trie
keyed by segment, so the cost of a lookup depends on the number of segments
of the event type, not on the number of rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.language.ruleset import CompiledRule


@dataclass
class _TrieNode:
    children: dict[str, _TrieNode] = field(default_factory=dict)
    rules: list[CompiledRule] = field(default_factory=list)


class Matcher:
    def __init__(self, rules: Iterable[CompiledRule]) -> None:
        self._exact: dict[str, list[CompiledRule]] = {}
        self._wildcards = _TrieNode()
        self._has_wildcards = False
        for rule in rules:
            for pattern in dict.fromkeys(rule.event_patterns):
                self._add(pattern, rule)

    def _add(self, pattern: str, rule: CompiledRule) -> None:
        if "*" not in pattern:
            self._exact.setdefault(pattern, []).append(rule)
            return
        self._has_wildcards = True
        node = self._wildcards
        for segment in pattern.split("."):
            node = node.children.setdefault(segment, _TrieNode())
        node.rules.append(rule)

    def rules_for(self, event_type: str) -> list[CompiledRule]:
        """Enabled rules listening to ``event_type``, in file order, each once."""
        found = list(self._exact.get(event_type, ()))
        if self._has_wildcards:
            found.extend(self._walk(self._wildcards, event_type.split("."), 0))
            if len(found) > 1:
                found = sorted({id(r): r for r in found}.values(), key=lambda r: r.order)
        return found

    def _walk(self, node: _TrieNode, segments: list[str], depth: int) -> list[CompiledRule]:
        if depth == len(segments):
            return node.rules
        out: list[CompiledRule] = []
        for key in (segments[depth], "*"):
            child = node.children.get(key)
            if child is not None:
                out.extend(self._walk(child, segments, depth + 1))
        return out
