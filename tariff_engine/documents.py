"""Tariff documents as the sources deliver them, of every family, for every door (CLI, quotes, lint).

One job: recognise a tariff document's family and turn it into a canonical `Tariff` with that family's
adapter. Shapes accepted (exactly what the sources and the demo generator write):
- OCPI 2.1.1 / 2.2.1 / 2.3.0 tariff objects (`elements`), bare or in an OCPI response page
  (`{"data": …, "status_code": …}`), or a list of them;
- platform tariffs (seed 001 `type` in `PLATFORM_TYPES`), bare or in the API's `{"data": {…}}` envelope;
- Eevion tariff objects (seed 003 `type` in `EEVION_TYPES`): bare (they carry no currency: give `currency`,
  or a `currency` field beside the tariff's own fields, as the pipeline's landing files do) or inside an
  Eevion session (`{"tariff": {…}, "currency": …}`).
A folder is read recursively (`*.json`, sorted by path); a missing or empty folder, or one without JSON
files, is a `TariffSourceError` with a sentence saying so, never an empty result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .adapters.eevion import EEVION_TYPES, tariff_from_eevion, tariff_from_eevion_session
from .adapters.ocpi import OcpiFormatError, parse_tariff
from .adapters.platform import PLATFORM_TYPES, tariff_from_platform
from .model import Tariff, TariffModelError

FAMILIES = ("ocpi", "platform", "eevion")
# Session-level fields an Eevion tariff file may carry beside the tariff object itself (landing files).
_EEVION_SESSION_FIELDS = ("currency", "taxIncluded", "taxes")


class TariffSourceError(ValueError):
    """A tariff file or folder that cannot be read (missing, empty, not JSON): the message says which."""


class TariffDocumentError(ValueError):
    """A document no adapter accepts; `path` is the JSON path of the problem."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def unwrap(document: Any) -> Any:
    """The tariff object(s) inside an OCPI response page or the platform's `{"data": …}` envelope."""
    if isinstance(document, Mapping) and "data" in document and "elements" not in document and "type" not in document:
        if isinstance(document["data"], (Mapping, list)):
            return document["data"]
    return document


def family_of(document: Any) -> str | None:
    """"ocpi", "platform", "eevion" (a bare tariff or a session carrying one) or None (not a tariff)."""
    if not isinstance(document, Mapping):
        return None
    if "elements" in document:
        return "ocpi"
    kind = document.get("type")
    if kind in PLATFORM_TYPES:
        return "platform"
    if kind in EEVION_TYPES:
        return "eevion"
    inner = document.get("tariff")
    if isinstance(inner, Mapping) and inner.get("type") in EEVION_TYPES:
        return "eevion"
    return None


def tariff_from_document(document: Any, *, timezone_name: str | None = None, currency: str | None = None,
                         electricity_rate: Any = None, never_idle: bool = False) -> Tariff:
    """The canonical tariff of one (unwrapped) document through its family's adapter.

    `timezone_name`: the station's zone (platform validity dates); `currency`: the currency of a bare Eevion
    tariff; `electricity_rate`: for platform dynamic pricing; `never_idle`: the sessions priced never idle
    (quotes). Raises `TariffDocumentError` naming the JSON path.
    """
    family = family_of(document)
    try:
        if family == "ocpi":
            return parse_tariff(document)
        if family == "platform":
            return tariff_from_platform(document, timezone_name=timezone_name, electricity_rate=electricity_rate,
                                        never_idle=never_idle)
        if family == "eevion":
            if isinstance(document.get("tariff"), Mapping):
                return tariff_from_eevion_session(document)
            own = document.get("currency") or currency
            if not isinstance(own, str):
                raise TariffDocumentError("$.currency", "an Eevion tariff carries no currency: pass --currency "
                                                        "(e.g. CAD or USD)")
            tariff = {k: v for k, v in document.items() if k not in _EEVION_SESSION_FIELDS}
            return tariff_from_eevion(tariff, currency=own, tax_included=document.get("taxIncluded", True),
                                      taxes=document.get("taxes"))
    except OcpiFormatError as error:
        raise TariffDocumentError(error.path, str(error).removeprefix(f"{error.path}: ")) from None
    except TariffModelError as error:
        path = getattr(error, "path", "$")
        raise TariffDocumentError(path, str(error).removeprefix(f"{path}: ")) from None
    raise TariffDocumentError("$", "not a recognised tariff: expected an OCPI tariff (elements), a platform "
                                   f"tariff (type one of {', '.join(PLATFORM_TYPES)}) or an Eevion tariff "
                                   f"(type one of {', '.join(EEVION_TYPES)})")


@dataclass(frozen=True)
class TariffFile:
    """One tariff document read from disk: where it came from (file name, `[i]` for list items), its family
    (None when unrecognised) and the document itself (unwrapped)."""

    origin: str
    family: str | None
    document: Any


def load_json(path: Path | str, what: str = "tariff") -> Any:
    """A JSON file's content; `TariffSourceError` with a sentence when missing or not JSON."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TariffSourceError(f"{what} file not found: {file}") from None
    except IsADirectoryError:
        raise TariffSourceError(f"{what} file {file} is a folder; give a file") from None
    except UnicodeDecodeError:
        raise TariffSourceError(f"{what} file {file} is not JSON: not UTF-8 text (a binary file?)") from None
    except OSError as error:
        raise TariffSourceError(f"{what} file {file} cannot be read: {error.strerror or error}") from None
    if not text.strip():
        raise TariffSourceError(f"{what} file {file} is empty" + (" (only blank lines)" if text else ""))
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise TariffSourceError(f"{what} file {file} is not valid JSON: {error}") from None


def documents_in(content: Any, origin: str) -> list[TariffFile]:
    """The tariff documents of one file's content: one object, a list, or a page/envelope of either."""
    content = unwrap(content)
    if isinstance(content, list):
        return [item for i, element in enumerate(content) for item in documents_in(element, f"{origin}[{i}]")]
    return [TariffFile(origin, family_of(content), content)]


def json_files(folder: Path | str) -> list[Path]:
    """Every `*.json` under `folder` (recursively, sorted); a clear error when there is none."""
    root = Path(folder)
    if not root.exists():
        raise TariffSourceError(f"tariff folder not found: {root}")
    if not root.is_dir():
        raise TariffSourceError(f"not a folder: {root}")
    files = sorted(path for path in root.rglob("*.json") if path.is_file())
    if not files:
        entries = sorted(p.name for p in root.iterdir())
        listing = f" (it holds: {', '.join(entries[:10])})" if entries else " (it is empty)"
        raise TariffSourceError(f"no *.json tariff files in {root} or its subfolders{listing}")
    return files
