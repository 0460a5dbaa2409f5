"""Delivery of charges to the Charge API with the export log: batches, bisection, pendings, idempotence.

Rules (one place):
- a charge already DELIVERED (the receiver said `Success` or `Duplicate`) is never sent again, even if its
  data changed since (the receiver would ignore it as a duplicate anyway; counted as changed_after_delivery);
- a charge REJECTED by the receiver is sent again only if its payload changed;
- a charge whose key (chargeExternalId, chargePointExternalId) the log holds for another session is not sent
  (the receiver would drop it as a Duplicate): it is returned as a collision for the asset to quarantine;
- PENDING charges (an attempt whose outcome is unknown) go first, with the payload stored in the log;
- charges are sent per endpoint in batches of `batch_size`; each batch is logged as pending before it is
  sent and its outcome after;
- a 400 refuses the whole batch (nothing ingested): the batch is split in halves and each half sent again,
  down to single charges, so only the offending charges are rejected (with the receiver's message) and the
  rest are delivered;
- when the API stays unavailable after the client's retries, the batch stays PENDING and the charges not
  sent yet are queued as PENDING: a later run (the retry sensor) sends them. A refused credential (401/403
  from the token endpoint) stops the export with an error, since no retry can fix it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from assets.export.log import DELIVERED, PENDING, REJECTED, Charge, ExportLog
from resources.charge_api import ENDPOINTS, BatchRejected, ChargeApiResource
from resources.platform_api import ApiError


@dataclass
class ExportOutcome:
    """What one export did for one settlement date."""

    sent: int = 0  # answered Success in this run
    duplicate: int = 0  # answered Duplicate in this run
    rejected: int = 0  # rejected by the receiver in this run
    already_delivered: int = 0  # delivered by an earlier run: not sent
    still_rejected: int = 0  # rejected earlier, payload unchanged: not sent
    changed_after_delivery: int = 0  # delivered earlier, but the data changed since (cannot be re-sent)
    resent_pending: int = 0  # pendings of earlier runs sent again
    requests: int = 0  # charge requests made (bisection included)
    batch_rejections: int = 0  # 400s for batches of more than one charge
    unavailable: str | None = None  # why sending stopped early (charges left PENDING)
    pending: int = 0  # PENDING for the date after this run
    rejected_keys: list[tuple[str, str]] = field(default_factory=list)
    collisions: list[tuple[Charge, str]] = field(default_factory=list)  # (charge, session that holds its key)


class _Unavailable(Exception):
    pass


class Exporter:
    """Sends one date's charges through `api`, logging every attempt in `log`."""

    def __init__(self, api: ChargeApiResource, log: ExportLog, batch_size: int = 100) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.api, self.log, self.batch_size = api, log, batch_size

    def export(self, settlement_date: str, charges: Sequence[Charge]) -> ExportOutcome:
        """Deliver `charges` of `settlement_date` (plus the date's pendings); see the module rules."""
        outcome = ExportOutcome()
        pending = self.log.pending(settlement_date)
        pending_sessions = {c.key: c.session_id for c in pending}
        outcome.resent_pending = len(pending)
        queue: list[Charge] = list(pending)
        known = self.log.lookup(c.key for c in charges if c.key not in pending_sessions)
        for charge in charges:
            if charge.key in pending_sessions:  # already queued with the payload that may have arrived
                if pending_sessions[charge.key] != charge.session_id:
                    outcome.collisions.append((charge, pending_sessions[charge.key]))
                continue
            logged = known.get(charge.key)
            if logged is not None and logged.charge.session_id != charge.session_id:
                # Another session already holds this key at the receiver: sending would be answered Duplicate
                # and the charge silently dropped, so it is reported instead.
                outcome.collisions.append((charge, logged.charge.session_id))
            elif logged is None:
                queue.append(charge)
            elif logged.status == DELIVERED:
                outcome.already_delivered += 1
                outcome.changed_after_delivery += logged.charge.payload_sha256 != charge.payload_sha256
            elif logged.status == REJECTED and logged.charge.payload_sha256 == charge.payload_sha256:
                outcome.still_rejected += 1
            elif logged.status == PENDING:  # pending under another date: re-send what may have arrived
                queue.append(logged.charge)
            else:
                queue.append(charge)

        batches: list[list[Charge]] = []
        for endpoint in ENDPOINTS:  # a request goes to one endpoint, so a batch holds one kind of charge
            same = [c for c in queue if c.endpoint == endpoint]
            batches += [same[i:i + self.batch_size] for i in range(0, len(same), self.batch_size)]
        for position, batch in enumerate(batches):
            try:
                self._deliver(batch, outcome)
            except _Unavailable as stop:
                outcome.unavailable = str(stop)
                rest = [c for later in batches[position + 1:] for c in later]
                if rest:
                    self.log.queue(rest, f"not sent yet: {stop}")
                break
        outcome.pending = len(self.log.pending(settlement_date))
        return outcome

    def _deliver(self, batch: list[Charge], outcome: ExportOutcome) -> None:
        batch_id = uuid.uuid4().hex
        self.log.begin_attempt(batch_id, batch)  # pending *before* sending: a crash after this loses nothing
        outcome.requests += 1
        try:
            statuses = self.api.send_charges(batch[0].endpoint, [c.payload for c in batch])
        except BatchRejected as refusal:
            if len(batch) == 1:
                self.log.record_rejected(batch_id, batch[0], refusal.message)
                outcome.rejected += 1
                outcome.rejected_keys.append(batch[0].key)
                return
            self.log.record_batch_rejected(batch_id, batch, refusal.message)
            outcome.batch_rejections += 1
            half = len(batch) // 2
            self._deliver(batch[:half], outcome)
            self._deliver(batch[half:], outcome)
            return
        except ApiError as failure:
            self.log.record_failed(batch_id, batch, failure.message)
            if failure.status in (401, 403):
                raise  # the credentials are refused: retrying later cannot help, say so now
            raise _Unavailable(failure.message) from None
        self.log.record_answer(batch_id, batch, statuses)
        for charge in batch:
            status = statuses.get(charge.key)
            outcome.sent += status == "Success"
            outcome.duplicate += status == "Duplicate"
