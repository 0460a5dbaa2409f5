"""Applying company documents (seed 004, JSON:API) to the partner registry, with the optimistic lock.

The seed's rule: `version` "needs to be 1 on create and for update 1 higher than the current version";
anything else is answered with 409 VERSION_CONFLICT. We apply documents in delivery order (landing date,
file name) and quarantine, with the same code, every document the source system would have refused:

| code | rule |
|---|---|
| MALFORMED_JSON | the file is not JSON |
| INVALID_DOCUMENT | not `{"data": {...}}`, or `type` is not `company` |
| INVALID_ID | `id` is not a UUID |
| MISSING_FIELD | a required attribute is absent (`name`, `version`, `is_cpo`, `is_emp`, `external_source_mapping`, `supported_emps`) |
| INVALID_VALUE | an attribute has the wrong type (version not a positive integer, flags not booleans, …) |
| VERSION_CONFLICT | create with version ≠ 1, or update with version ≠ current + 1 (stale or skipped) |
| UNKNOWN_SUPPORTED_EMP | `supported_emps` names a company that is neither a registered EMP nor an EMP defined by that day's documents |
"""

import json
import uuid
from dataclasses import dataclass

from assets.quarantine import Rejected as DocumentRejected


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


def parse_company(text: str) -> CompanyVersion:
    """Validate one document's shape (not its version); raises DocumentRejected."""
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentRejected("MALFORMED_JSON", f"not JSON: {exc.msg} at position {exc.pos}") from exc
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or data.get("type") != "company":
        raise DocumentRejected("INVALID_DOCUMENT", "expected a JSON:API document {\"data\": {\"type\": \"company\", …}}")
    company_id = data.get("id")
    try:
        uuid.UUID(str(company_id))
    except ValueError as exc:
        raise DocumentRejected("INVALID_ID", f"id {company_id!r} is not a UUID") from exc
    attrs = data.get("attributes")
    if not isinstance(attrs, dict):
        raise DocumentRejected("MISSING_FIELD", "attributes are missing")
    for name in ("name", "version", "is_cpo", "is_emp", "external_source_mapping"):
        if name not in attrs:
            raise DocumentRejected("MISSING_FIELD", f"attribute {name} is required")
    version = attrs["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise DocumentRejected("INVALID_VALUE", f"version {version!r} is not a positive integer")
    if not isinstance(attrs["is_cpo"], bool) or not isinstance(attrs["is_emp"], bool):
        raise DocumentRejected("INVALID_VALUE", "is_cpo and is_emp must be booleans")
    if not isinstance(attrs["external_source_mapping"], dict):
        raise DocumentRejected("INVALID_VALUE", "external_source_mapping must be a hash")
    # supported_emps is listed as a required attribute but the seed's example sends it as a relationship.
    relation = (data.get("relationships") or {}).get("supported_emps")
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
            raise DocumentRejected("INVALID_VALUE", f"supported_emps entry {entry!r} has no id")
        emps.append(emp_id)
    return CompanyVersion(
        company_id=str(company_id), version=version, name=str(attrs["name"]), url=attrs.get("url"),
        is_cpo=attrs["is_cpo"], is_emp=attrs["is_emp"],
        external_source_mapping=json.dumps(attrs["external_source_mapping"], sort_keys=True),
        supported_emps=tuple(sorted(set(emps))),
        created_at_ms=attrs.get("created_at"), updated_at_ms=attrs.get("updated_at"),
    )


def check_version(current: CompanyVersion | None, incoming: CompanyVersion) -> None:
    """The optimistic lock of the seed; raises VERSION_CONFLICT."""
    expected = 1 if current is None else current.version + 1
    if incoming.version != expected:
        what = "create" if current is None else f"update of version {current.version}"
        kind = "stale" if incoming.version < expected else "skips a version"
        raise DocumentRejected("VERSION_CONFLICT", f"{what} needs version {expected}, got {incoming.version} ({kind})")


@dataclass
class DayOutcome:
    """What one landing day's documents did to the registry."""

    accepted: list[tuple[str, CompanyVersion]]  # (record_ref, version)
    rejected: list[tuple[str, str, str, str]]  # (record_ref, code, reason, raw text)


def apply_day(state: dict[str, CompanyVersion], documents: list[tuple[str, str]]) -> DayOutcome:
    """Apply a day's documents (record_ref, text) in order to `state` (mutated).

    A `supported_emps` reference may name an EMP that is already registered or one that the same day's
    documents define (deliveries are not ordered by dependency).
    """
    day_emps = set()
    for _, text in documents:
        try:
            company = parse_company(text)
        except DocumentRejected:
            continue
        if company.is_emp:
            day_emps.add(company.company_id)
    outcome = DayOutcome([], [])
    for ref, text in documents:
        try:
            company = parse_company(text)
            check_version(state.get(company.company_id), company)
            known = {cid for cid, c in state.items() if c.is_emp} | day_emps
            unknown = [e for e in company.supported_emps if e not in known]
            if unknown:
                raise DocumentRejected("UNKNOWN_SUPPORTED_EMP", f"supported_emps {unknown} are not known EMPs")
        except DocumentRejected as exc:
            outcome.rejected.append((ref, exc.code, exc.reason, text))
            continue
        state[company.company_id] = company
        outcome.accepted.append((ref, company))
    return outcome
