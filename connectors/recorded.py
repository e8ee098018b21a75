"""Connectors whose real transport arrives with a later issue write what they would do.

Calendar, accounting and backup actions on the ``file`` transport write one
JSON file per action under ``var/outbox/<connector>/`` (once per idempotency
key) and return stable stand-in outputs, so rules using ``steps.<id>`` work
end to end in the embedded default.
"""

from __future__ import annotations

import hashlib
from typing import Any

from connectors.base import ActionCall, Connector
from connectors.outbox import write_once
from errors import PermanentError


def write_to_outbox(connector: Connector, call: ActionCall) -> dict[str, Any]:
    if connector.settings.transport != "file":
        raise PermanentError(f"{connector.name}.{call.action}: transport '{connector.settings.transport}' "
                             "is not available yet", code="not_supported")
    body = {"action": f"{connector.name}.{call.action}", "params": call.params.model_dump(by_alias=True),
            "rule_id": call.rule_id, "event_id": call.event_id, "step_id": call.step_id}
    path, _ = write_once(connector.runtime.outbox, connector.name, call.idempotency_key, body)
    token = "file-" + hashlib.sha256(call.idempotency_key.encode()).hexdigest()[:20]
    spec = connector.actions[call.action]
    outputs: dict[str, Any] = {name: token for name in spec.outputs}
    for name in ("path", "html_link"):
        if name in outputs:
            outputs[name] = str(path)
    if "size_bytes" in outputs:
        outputs["size_bytes"] = path.stat().st_size
    return outputs
