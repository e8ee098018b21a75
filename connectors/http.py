"""Plain HTTP requests to other systems."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from connectors.base import ActionSpec, Connector, ConnectorSettings, Params


class HttpSettings(ConnectorSettings):
    transport: Literal["http", "file"] = "http"
    allow_hosts: list[str] = Field(default_factory=list,
                                   description="Hosts http.request may call; empty means any public host")
    allow_private: bool = Field(False, description="Allow private and loopback addresses")


class HttpRequestParams(Params):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str
    json_: Any = Field(None, alias="json", description="JSON body")
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(10.0, gt=0, le=120)


class HttpConnector(Connector):
    name = "http"
    settings_model = HttpSettings
    actions: ClassVar[dict[str, ActionSpec]] = {
        "request": ActionSpec("request", HttpRequestParams, "Make an HTTP request",
                              outputs=("status", "body")),
    }
