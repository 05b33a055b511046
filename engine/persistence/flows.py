"""L2 adapter: flow sources, every revision kept.

Only the YAML source text is stored (verbatim, comments included); parsing and validation
happen above this layer. Saving a source equal to the latest revision's creates nothing
(Kestra's rule); deleting writes one more revision marked deleted, so history survives.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.persistence.base import NotFound, Repository
from engine.persistence.records import FlowRevision as FlowRevision
from engine.persistence.records import flow_revision
from engine.persistence.tables import flows

# Two writers may pick the same next revision; the primary key rejects one, which retries.
_SAVE_ATTEMPTS = 5


class FlowNotFound(NotFound):
    pass


class FlowRepository(Repository):
    def save(self, namespace: str, flow_id: str, source: str, now: datetime,
             *, session: Session | None = None) -> tuple[int, bool]:
        """Stores ``source`` as the next revision; returns ``(revision, created)``.

        An unchanged source (same text as the latest, non-deleted revision) returns the
        latest revision and ``created=False``. Saving after a delete restores the flow.
        """
        for attempt in range(_SAVE_ATTEMPTS):
            try:
                with self._tx(session) as tx, tx.begin_nested():
                    return self._save_once(tx, namespace, flow_id, source, now)
            except IntegrityError:
                if attempt == _SAVE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _save_once(self, tx: Session, namespace: str, flow_id: str, source: str,
                   now: datetime) -> tuple[int, bool]:
        latest = self._latest(tx, namespace, flow_id)
        if latest is not None and not latest.deleted and latest.source == source:
            return latest.revision, False
        revision = 1 if latest is None else latest.revision + 1
        tx.execute(flows.insert().values(namespace=namespace, flow_id=flow_id, revision=revision,
                                         source=source, deleted=False, created=now))
        return revision, True

    def get(self, namespace: str, flow_id: str, revision: int | None = None, *,
            allow_deleted: bool = False, session: Session | None = None) -> FlowRevision | None:
        """The latest revision (or ``revision``); None if missing, or deleted unless allowed."""
        with self._tx(session, write=False) as tx:
            if revision is None:
                found = self._latest(tx, namespace, flow_id)
            else:
                row = tx.execute(select(flows).where(
                    flows.c.namespace == namespace, flows.c.flow_id == flow_id,
                    flows.c.revision == revision)).first()
                found = flow_revision(row._mapping) if row else None
        if found is None or (found.deleted and not allow_deleted):
            return None
        return found

    def latest_revision(self, namespace: str, flow_id: str, *,
                        session: Session | None = None) -> tuple[int, bool] | None:
        """(number, deleted) of the latest revision, without its source; None if no revision."""
        with self._statement(session) as tx:
            row = tx.execute(_LATEST, {"_namespace": namespace, "_flow_id": flow_id}).first()
        return (int(row.revision), bool(row.deleted)) if row else None

    def revisions(self, namespace: str, flow_id: str, *,
                  session: Session | None = None) -> list[FlowRevision]:
        """Every revision, oldest first (deleted ones included)."""
        with self._tx(session, write=False) as tx:
            rows = tx.execute(select(flows).where(flows.c.namespace == namespace,
                                                  flows.c.flow_id == flow_id)
                              .order_by(flows.c.revision)).all()
        return [flow_revision(row._mapping) for row in rows]

    def list(self, namespace: str | None = None, *, include_deleted: bool = False,
             session: Session | None = None) -> list[FlowRevision]:
        """The latest revision of each flow, sorted by namespace then id.

        ``namespace`` matches that namespace and its children (``company`` finds
        ``company.team``), as Kestra's namespace filter does.
        """
        latest = (select(flows.c.namespace, flows.c.flow_id,
                         func.max(flows.c.revision).label("revision"))
                  .group_by(flows.c.namespace, flows.c.flow_id).subquery())
        query = (select(flows).join(latest, and_(flows.c.namespace == latest.c.namespace,
                                                 flows.c.flow_id == latest.c.flow_id,
                                                 flows.c.revision == latest.c.revision))
                 .order_by(flows.c.namespace, flows.c.flow_id))
        if namespace is not None:
            query = query.where((flows.c.namespace == namespace)
                                | flows.c.namespace.startswith(namespace + ".", autoescape=True))
        if not include_deleted:
            query = query.where(flows.c.deleted.is_(False))
        with self._tx(session, write=False) as tx:
            return [flow_revision(row._mapping) for row in tx.execute(query).all()]

    def delete(self, namespace: str, flow_id: str, now: datetime, *,
               session: Session | None = None) -> int:
        """Writes a deleted revision (same source); returns its number.

        Raises FlowNotFound if the flow does not exist or is already deleted.
        """
        with self._tx(session) as tx:
            latest = self._latest(tx, namespace, flow_id)
            if latest is None or latest.deleted:
                raise FlowNotFound(f"flow {namespace}.{flow_id} not found")
            revision = latest.revision + 1
            tx.execute(flows.insert().values(namespace=namespace, flow_id=flow_id,
                                             revision=revision, source=latest.source,
                                             deleted=True, created=now))
            return revision

    @staticmethod
    def _latest(tx: Session, namespace: str, flow_id: str) -> FlowRevision | None:
        row = tx.execute(select(flows).where(flows.c.namespace == namespace,
                                             flows.c.flow_id == flow_id)
                         .order_by(flows.c.revision.desc()).limit(1)).first()
        return flow_revision(row._mapping) if row else None


# Built once, bound per call: every execution created asks for its flow's latest revision.
_LATEST = (select(flows.c.revision, flows.c.deleted)
           .where(flows.c.namespace == bindparam("_namespace"), flows.c.flow_id == bindparam("_flow_id"))
           .order_by(flows.c.revision.desc()).limit(1))
