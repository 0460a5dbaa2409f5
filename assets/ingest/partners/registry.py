"""Applying company documents (seed 004, JSON:API) to the partner registry, with the optimistic lock.

The seed's rule: `version` "needs to be 1 on create and for update 1 higher than the current version";
anything else is answered with 409 VERSION_CONFLICT. We apply documents in delivery order (landing date,
file name) and quarantine, with the same code, every document the source system would have refused:

| code | rule |
|---|---|
| MALFORMED_JSON | the file is not JSON (framework) |
| INVALID_DOCUMENT | not `{"data": {...}}`, or `type` is not `company` |
| INVALID_ID | `id` is not a UUID |
| MISSING_FIELD | a required attribute is absent (`name`, `version`, `is_cpo`, `is_emp`, `external_source_mapping`, `supported_emps`) |
| INVALID_VALUE | an attribute has the wrong type (version not a positive integer, flags not booleans, `relationships` not an object, …) |
| INVALID_TIMESTAMP / TIMESTAMP_OUT_OF_RANGE | `created_at` / `updated_at` not epoch milliseconds between 1970 and 2100 |
| VERSION_CONFLICT | create with version ≠ 1, or update with version ≠ current + 1 (stale or skipped) |
| DUPLICATE_RECORD | the current version of the company delivered again, identical |
| CONFLICTING_VERSION | the current version's number with other content (the first delivered stays, as in the source system) |
| UNKNOWN_SUPPORTED_EMP | `supported_emps` names a company that is neither a registered EMP nor an EMP defined by that day's documents |

Replays cannot be poisoned: every document goes through the framework's guard, so whatever one document
raises rejects that document on its own landing day, and every later replay rejects (skips) it the same way.
"""

import datetime as dt
import json
import uuid
from dataclasses import dataclass

from assets.ingest.common import RawRecord, guarded_parse, guards
from assets.quarantine import Rejected as DocumentRejected
from assets.quarantine import Rejection

# Company metadata stamps are not events of a landing day: any instant of the epoch era is plausible.
REGISTRY_WINDOW = guards.TimeWindow(dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc),
                                    dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc))
SOURCE = "company_document"


@dataclass(frozen=True)
class CompanyVersion:
    """One accepted version of a company."""

    company_id: str
    version: int
    name: str
    url: str | None
    is_cpo: bool
    is_emp: bool
    external_source_mapping: str  # canonical JSON text
    supported_emps: tuple[str, ...]
    created_at_ms: int | None
    updated_at_ms: int | None


def parse_company(body: object) -> CompanyVersion:
    """Validate one decoded document's shape (not its version); raises DocumentRejected."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or data.get("type") != "company":
        raise DocumentRejected("INVALID_DOCUMENT", "expected a JSON:API document {\"data\": {\"type\": \"company\", …}}")
    company_id = data.get("id")
    try:
        uuid.UUID(company_id) if isinstance(company_id, str) else uuid.UUID(str(company_id))
    except ValueError as exc:
        raise DocumentRejected("INVALID_ID", f"id {company_id!r} is not a UUID") from exc
    attrs = data.get("attributes")
    if not isinstance(attrs, dict):
        raise DocumentRejected("MISSING_FIELD", "attributes are missing")
    for name in ("name", "version", "is_cpo", "is_emp", "external_source_mapping"):
        if name not in attrs:
            raise DocumentRejected("MISSING_FIELD", f"attribute {name} is required")
    version = attrs["version"]
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version < 2**63:
        raise DocumentRejected("INVALID_VALUE", f"version {guards._show(version)} is not a positive integer")
    if not isinstance(attrs["is_cpo"], bool) or not isinstance(attrs["is_emp"], bool):
        raise DocumentRejected("INVALID_VALUE", "is_cpo and is_emp must be booleans")
    if not isinstance(attrs["external_source_mapping"], dict):
        raise DocumentRejected("INVALID_VALUE", "external_source_mapping must be a hash")
    # supported_emps is listed as a required attribute but the seed's example sends it as a relationship.
    relation = guards.obj(data.get("relationships"), "relationships").get("supported_emps")
    if relation is not None:
        entries = relation.get("data") if isinstance(relation, dict) else None
    elif "supported_emps" in attrs:
        entries = attrs["supported_emps"]
    else:
        raise DocumentRejected("MISSING_FIELD", "supported_emps is required (attribute or relationship)")
    if not isinstance(entries, list):
        raise DocumentRejected("INVALID_VALUE", "supported_emps must be an array")
    emps = []
    for entry in entries:
        emp_id = entry.get("id") if isinstance(entry, dict) else entry
        if not isinstance(emp_id, str):
            raise DocumentRejected("INVALID_VALUE", f"supported_emps entry {guards._show(entry)} has no id")
        emps.append(emp_id)
    stamps = {name: None if attrs.get(name) is None else guards.epoch_ms(attrs[name], name, REGISTRY_WINDOW)
              for name in ("created_at", "updated_at")}
    return CompanyVersion(
        company_id=str(company_id), version=version, name=guards.text(attrs["name"], "name"),
        url=guards.text(attrs.get("url"), "url"), is_cpo=attrs["is_cpo"], is_emp=attrs["is_emp"],
        external_source_mapping=json.dumps(attrs["external_source_mapping"], sort_keys=True),
        supported_emps=tuple(sorted(set(emps))),
        created_at_ms=attrs.get("created_at") if stamps["created_at"] else None,
        updated_at_ms=attrs.get("updated_at") if stamps["updated_at"] else None,
    )


def check_version(current: CompanyVersion | None, incoming: CompanyVersion, current_ref: str | None = None) -> None:
    """The optimistic lock of the seed; raises VERSION_CONFLICT, or DUPLICATE_RECORD / CONFLICTING_VERSION when
    the current version's number arrives again."""
    if current is not None and incoming.version == current.version:
        if incoming == current:
            raise DocumentRejected("DUPLICATE_RECORD", f"version {current.version} again, identical to {current_ref}")
        raise DocumentRejected("CONFLICTING_VERSION", f"version {current.version} again with other content than "
                                                      f"{current_ref}, which was applied first")
    expected = 1 if current is None else current.version + 1
    if incoming.version != expected:
        what = "create" if current is None else f"update of version {current.version}"
        kind = "stale" if incoming.version < expected else "skips a version"
        raise DocumentRejected("VERSION_CONFLICT", f"{what} needs version {expected}, got {incoming.version} ({kind})")


@dataclass
class Registry:
    """The registry's state: each company's current version and the document that delivered it."""

    companies: dict[str, CompanyVersion]
    refs: dict[str, str]


@dataclass
class DayOutcome:
    """What one landing day's documents did to the registry."""

    accepted: dict[str, CompanyVersion]  # record_ref → version applied
    rejected: dict[str, Rejection]  # record_ref → why not


def apply_day(registry: Registry, records: list[RawRecord]) -> DayOutcome:
    """Apply a day's documents in order to `registry` (mutated); never raises for a bad document.

    A `supported_emps` reference may name an EMP that is already registered or one that the same day's
    documents define (deliveries are not ordered by dependency).
    """
    day_emps = set()
    for record in records:
        _, accepted, _ = guarded_parse(lambda value, _record: parse_company(value), record, SOURCE)
        if accepted is not None and accepted.row.is_emp:
            day_emps.add(accepted.row.company_id)
    outcome = DayOutcome({}, {})

    def apply(value: object, record: RawRecord) -> CompanyVersion:
        company = parse_company(value)
        check_version(registry.companies.get(company.company_id), company, registry.refs.get(company.company_id))
        known = {cid for cid, c in registry.companies.items() if c.is_emp} | day_emps
        unknown = [e for e in company.supported_emps if e not in known]
        if unknown:
            raise DocumentRejected("UNKNOWN_SUPPORTED_EMP", f"supported_emps {unknown} are not known EMPs")
        return company

    for record in records:
        _, accepted, rejection = guarded_parse(apply, record, SOURCE)
        if rejection is not None:
            outcome.rejected[record.ref] = rejection
            continue
        company = accepted.row
        registry.companies[company.company_id] = company
        registry.refs[company.company_id] = record.ref
        outcome.accepted[record.ref] = company
    return outcome
