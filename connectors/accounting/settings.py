"""``connectors.accounting`` in the config: which systems, their credentials, who owns which field."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.base import ConnectorSettings

System = Literal["asaas", "omie", "conta_azul"]
Owner = Literal["despacho", "provider"]
DEFAULT_OWNERSHIP: dict[str, Owner] = {
    "amount": "despacho", "due_date": "despacho", "description": "despacho",
    "settlement": "provider", "status": "provider"}


class VendorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    timeout: float = Field(15.0, gt=0, description="Seconds to wait for each request")


class AsaasSettings(VendorSettings):
    api_url: str = Field("https://api.asaas.com/v3", description="Sandbox: https://api-sandbox.asaas.com/v3")
    api_key: SecretStr | None = Field(None, description="The account's API key (header access_token)")
    webhook_token: SecretStr | None = Field(
        None, description="The token configured on the Asaas webhook; checked on every delivery")
    billing_type: Literal["BOLETO", "PIX", "CREDIT_CARD", "UNDEFINED"] = Field(
        "UNDEFINED", description="UNDEFINED lets the customer choose boleto, PIX or card")
    fine_percent: Decimal | None = Field(None, ge=0, le=2, description="Late fine, % of the amount (max 2)")
    interest_percent: Decimal | None = Field(None, ge=0, le=1, description="Interest per month, % (max 1)")
    service_description: str = Field("Serviços de manutenção", description="NFS-e service description")
    municipal_service_code: str | None = Field(None, description="Código de serviço municipal for NFS-e")


class OmieSettings(VendorSettings):
    api_url: str = Field("https://app.omie.com.br/api/v1/", description="Root of the module URLs")
    app_key: SecretStr | None = None
    app_secret: SecretStr | None = None
    calls_per_minute: int = Field(960, ge=1, description="Omie's limit per IP, shared by every worker")
    calls_per_method_minute: int = Field(240, ge=1, description="Omie's limit per IP, app key and method")
    concurrent_per_method: int = Field(4, ge=1, description="Omie's limit of simultaneous calls per method")
    account_code: int | None = Field(None, description="codigo_conta_corrente where settlements land")
    category_code: str = Field("1.01.02", description="codigo_categoria of receivables (services)")
    service_code: str | None = Field(None, description="Service code of OS items, for the NFS-e")


class ContaAzulSettings(VendorSettings):
    # Python's re for `company`: the Rust engine compiles the Unicode tables of \w on import,
    # 30 ms of every command's start.
    model_config = ConfigDict(regex_engine="python-re")

    api_url: str = Field("https://api-v2.contaazul.com", description="API v2 root")
    auth_url: str = Field("https://auth.contaazul.com/oauth2/authorize", description="Consent page")
    token_uri: str = Field("https://auth.contaazul.com/oauth2/token", description="OAuth2 token endpoint")
    client_id: str | None = None
    client_secret: SecretStr | None = None
    calls_per_minute: int = Field(600, ge=1)
    calls_per_second: int = Field(10, ge=1)
    poll_every: str = Field("10m", description="How often receivables are polled for settlements")
    company: str = Field("default", pattern=r"^[^\W_][\w .-]{0,99}$",
                         description="Which connected company (despacho accounting connect --company)")
    scope: str = Field("openid profile aws.cognito.signin.user.admin", description="OAuth2 scopes asked for")
    financial_account_id: str | None = Field(
        None, description="conta_financeira (UUID) receivables and settlements go to")
    category_id: str | None = Field(None, description="Revenue category (UUID) of the receivables' rateio")


class AccountingSettings(ConnectorSettings):
    transport: Literal["file", "live"] = Field(
        "file", description="live: call the systems below; file: write each call to the outbox folder")
    payments: Literal["asaas"] | None = Field(None, description="The payment provider charges go to")
    erp: Literal["omie", "conta_azul"] | None = Field(None, description="The ERP receivables go to")
    asaas: AsaasSettings = Field(default_factory=AsaasSettings)
    omie: OmieSettings = Field(default_factory=OmieSettings)
    conta_azul: ContaAzulSettings = Field(default_factory=ContaAzulSettings)
    ownership: dict[str, Owner] = Field(
        default_factory=lambda: dict(DEFAULT_OWNERSHIP),
        description="Who wins when a field changed on both sides since the last sync")
    reconcile_every: str = Field("1d", description="Open receivables compared on both sides")
    export_dir: Path = Field(Path("var/exports"), description="Where 'accounting export' writes")
