"""Tariff lint: structural and semantic problems of a tariff of any family (OCPI, platform, Eevion), each
with a JSON path.

Errors (the tariff cannot be priced as written): malformed JSON shapes, several components of one dimension
in an element (only the first would be used), components a reservation element cannot price, prices the
engine cannot represent exactly. Warnings (it prices, but probably not as meant): unit mix-ups (power in W
or A instead of kW), unreachable elements, contradictory restrictions, dimensions without a restriction-free
fallback (uncovered time is free), RESERVATION components outside reservation elements, tax-included tariffs
without any tax rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

from .documents import TariffDocumentError, tariff_from_document, unwrap
from .compile import TariffCompileError, compile_tariffs
from .model import Tariff, TariffRestrictions
from .policy import DEFAULT_POLICY
from .spec import BY_NAME, THRESHOLDS

# Above these a threshold in that unit (spec table) is almost surely in the wrong unit (W for kW; mA for A).
_PLAUSIBLE_BELOW = {"kW": (Decimal(1000), "power restrictions are in kW, not W"),
                    "A": (Decimal(2000), "current restrictions are in A")}
# A MIN threshold and the MAX threshold of the same row pair (min_x / max_x in the spec table), then dates.
_RANGE_PAIRS = tuple((spec.name, "max_" + spec.name[len("min_"):]) for spec in THRESHOLDS
                     if spec.compare == "MIN" and spec.name.startswith("min_") and "max_" + spec.name[len("min_"):] in BY_NAME
                     ) + (("start_date", "end_date"),)


@dataclass(frozen=True)
class Finding:
    """One lint finding: severity ERROR or WARNING, a stable code, the JSON path and a sentence."""

    severity: str
    code: str
    path: str
    message: str


def _unrestricted(restrictions: TariffRestrictions | None) -> bool:
    return restrictions is None or all(
        value is None for key, value in vars(restrictions).items()
    )


def _restriction_findings(r: TariffRestrictions, path: str) -> list[Finding]:
    findings = []
    for low, high in _RANGE_PAIRS:
        low_value, high_value = getattr(r, low), getattr(r, high)
        if low_value is not None and high_value is not None and low_value >= high_value:
            findings.append(Finding("WARNING", "CONTRADICTORY_RESTRICTIONS", f"{path}.{high}",
                                    f"{low} {low_value} >= {high} {high_value}: the element never applies"))
    for spec in THRESHOLDS:
        value, plausible = getattr(r, spec.name), _PLAUSIBLE_BELOW.get(spec.unit)
        if value is not None and plausible is not None and value > plausible[0]:
            findings.append(Finding("WARNING", "UNITS_MIX", f"{path}.{spec.name}",
                                    f"{value} {spec.unit} is implausible: {plausible[1]}"))
    if r.day_of_week is not None and not r.day_of_week:
        findings.append(Finding("WARNING", "CONTRADICTORY_RESTRICTIONS", f"{path}.day_of_week",
                                "empty day_of_week: treated as no weekday restriction"))
    if r.start_time is not None and r.end_time is not None and r.start_time == r.end_time and r.start_time.hour + r.start_time.minute:
        findings.append(Finding("WARNING", "AMBIGUOUS_TIME_WINDOW", f"{path}.end_time",
                                "start_time equals end_time: the engine treats it as the whole day"))
    return findings


def lint_tariff(tariff: Tariff) -> list[Finding]:
    """Semantic findings for a parsed tariff (paths as in its OCPI JSON)."""
    findings: list[Finding] = []
    # (reservation kind, dimension) -> the first element pricing it without other restrictions; kinds are
    # separate because RESERVATION_EXPIRES elements are searched first and only for expired reservations
    covered: dict[tuple[str | None, str], int] = {}
    dimensions_used: dict[bool, set[str]] = {False: set(), True: set()}
    for e_index, element in enumerate(tariff.elements):
        path = f"$.elements[{e_index}]"
        restrictions = element.restrictions
        kind = None if restrictions is None else restrictions.reservation
        reservation = kind is not None
        seen: dict[str, int] = {}
        for c_index, component in enumerate(element.price_components):
            c_path = f"{path}.price_components[{c_index}]"
            dimension = "TIME" if component.type == "RESERVATION" and reservation else component.type
            if dimension in seen:
                findings.append(Finding("ERROR", "DUPLICATE_DIMENSION", c_path,
                                        f"second {component.type} component in one element; only the first "
                                        f"(price_components[{seen[dimension]}]) is used"))
            seen.setdefault(dimension, c_index)
            if reservation and component.type not in ("FLAT", "TIME", "RESERVATION"):
                findings.append(Finding("ERROR", "RESERVATION_DIMENSION", f"{c_path}.type",
                                        f"a reservation element can only price FLAT and TIME, not {component.type}"))
            if not reservation and component.type == "RESERVATION":
                findings.append(Finding("WARNING", "RESERVATION_COMPONENT_UNUSED", f"{c_path}.type",
                                        "RESERVATION components only price elements with a reservation restriction"))
            if component.type == "ENERGY" and component.step_size > 100_000:
                findings.append(Finding("WARNING", "UNITS_MIX", f"{c_path}.step_size",
                                        "ENERGY step_size is in Wh; this step exceeds 100 kWh"))
            if component.type in ("TIME", "PARKING_TIME") and component.step_size > 86_400:
                findings.append(Finding("WARNING", "UNITS_MIX", f"{c_path}.step_size",
                                        "time step_size is in seconds; this step exceeds a day"))
        if restrictions is not None:
            findings.extend(_restriction_findings(restrictions, f"{path}.restrictions"))
        new_dimensions = [d for d in seen if (kind, d) not in covered]
        if seen and not new_dimensions:
            earlier = sorted({covered[(kind, d)] for d in seen})
            findings.append(Finding("WARNING", "UNREACHABLE_ELEMENT", path,
                                    f"every dimension is already priced by unrestricted element(s) {earlier}"))
        dimensions_used[reservation].update(seen)
        only_reservation = restrictions is not None and _unrestricted(
            TariffRestrictions(**{**vars(restrictions), "reservation": None}))
        if _unrestricted(restrictions) or (reservation and only_reservation):
            for dimension in seen:
                covered.setdefault((kind, dimension), e_index)
    for dimension in sorted(dimensions_used[False]):
        if dimension != "RESERVATION" and (None, dimension) not in covered:
            findings.append(Finding("WARNING", "NO_FALLBACK", "$.elements",
                                    f"no restriction-free element prices {dimension}: uncovered {dimension} is free"))
    if tariff.tax_included == "YES" and not tariff.taxes and all(
        c.vat is None for e in tariff.elements for c in e.price_components
    ):
        findings.append(Finding("WARNING", "TAX_RATE_UNKNOWN", "$.tax_included",
                                "prices include taxes but no rate is known: amounts before taxes equal the prices"))
    try:
        compile_tariffs([tariff], DEFAULT_POLICY)
    except (TariffCompileError, ValueError) as error:
        message = str(error)
        path = message.split(":", 1)[0].replace("tariffs[0]", "$")
        findings.append(Finding("ERROR", "NOT_REPRESENTABLE", path, message))
    return findings


def lint_document(document: Any, *, timezone_name: str | None = None, currency: str | None = None) -> list[Finding]:
    """Lint one tariff document of any family (OCPI, platform, Eevion: `documents.tariff_from_document`).

    A document no adapter accepts is one MALFORMED error finding at the adapter's JSON path (in the
    document as delivered); otherwise `lint_tariff` of the canonical tariff, whose paths for platform and
    Eevion documents point into the canonical (OCPI-shaped) tariff the adapter built."""
    try:
        tariff = tariff_from_document(unwrap(document), timezone_name=timezone_name, currency=currency)
    except TariffDocumentError as error:
        return [Finding("ERROR", "MALFORMED", error.path, error.message)]
    except ValueError as error:
        return [Finding("ERROR", "MALFORMED", "$", str(error))]
    return lint_tariff(tariff)
