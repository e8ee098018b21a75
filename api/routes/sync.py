"""Accounting syncs through the API: the records, one record's trail, a retry, a reconciliation."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.auth import requires
from api.crud import DbSession, DbTransaction
from api.errors import NotFoundError
from api.schemas.common import Short
from api.schemas.sync import (
    ReconcileIn,
    ReconcileOut,
    SyncRecordDetail,
    SyncRecordOut,
    SyncRecordsOut,
    SyncRetriedOut,
)
from engine.runtime.sync_retry import retry_records
from store.accounting_sync import audit_summary, conflicts_of, get_record, list_records, summary
from store.audit import record_action

router = APIRouter(prefix="/v1/sync", tags=["accounting"])


@router.get("/records", response_model=SyncRecordsOut)
def list_sync_records(session: DbSession, principal: requires("billing:read"), system: Short | None = None,
                      status: Short | None = None, entity: Short | None = None,
                      limit: int = 100) -> SyncRecordsOut:
    rows = list_records(session, system=system, status=status, entity=entity, limit=max(1, min(limit, 500)))
    return SyncRecordsOut(items=[SyncRecordOut.model_validate(summary(r)) for r in rows])


@router.get("/records/{record_id}", response_model=SyncRecordDetail)
def get_sync_record(session: DbSession, principal: requires("billing:read"),
                    record_id: str) -> SyncRecordDetail:
    from store.accounting_sync import trail

    record = get_record(session, record_id)
    return SyncRecordDetail(record=SyncRecordOut.model_validate(summary(record)),
                            conflicts=[c.model_dump(mode="json") for c in conflicts_of(session, record)],
                            audit=[audit_summary(a) for a in trail(session, record.id)])


@router.post("/records/{record_id}/retry", response_model=SyncRetriedOut)
def retry_sync_record(tx: DbTransaction, principal: requires("billing:write"),
                      record_id: str) -> SyncRetriedOut:
    outcome = retry_records(tx, [record_id], principal.actor)
    record_action(tx.session, principal.actor, "sync.retry", entity_type="accounting_sync_record",
                  details={"ids": [record_id], "requeued": outcome.requeued, "skipped": outcome.skipped})
    return SyncRetriedOut(requeued=outcome.requeued, skipped=outcome.skipped)


@router.post("/reconcile", response_model=ReconcileOut)
def reconcile_now(request: Request, principal: requires("billing:write"), body: ReconcileIn) -> ReconcileOut:
    """Compare open receivables on both sides now (calls the systems); mismatches also go to the audit."""
    from connectors.accounting import AccountingConnector
    from connectors.accounting.reconcile import reconcile
    from engine.runtime.compose import connector_runtime

    ctx = request.app.state.ctx
    settings = ctx.settings.connectors.accounting
    if settings.transport != "live":
        raise NotFoundError("connectors.accounting.transport is 'file': no system to reconcile with",
                            details={"entity": "accounting_system"})
    connector = AccountingConnector(settings, connector_runtime(ctx.settings, ctx.engine))
    systems = [body.system] if body.system else [s for s in (settings.payments, settings.erp) if s]
    session = connector.runtime.session
    assert session is not None
    reports = [reconcile(session, connector.sync().adapter(s), body.since, s) for s in systems]
    return ReconcileOut(ok=all(r.ok for r in reports), reports=[r.to_dict() for r in reports])
