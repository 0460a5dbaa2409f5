"""Every door takes every family: lint, price-cdr, explain and quote on the demo's own OCPI, platform and
Eevion tariff files (tests/fixtures/engine_doors, see its PROVENANCE.md), clear errors for empty or wrong
folders, units and integer indexes in explain, and every flag's default in --help."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from tariff_engine.cli import build_parser, main
from tariff_engine.documents import TariffSourceError
from tariff_engine.quotes import load_tariff_directory

DOORS = Path(__file__).resolve().parents[1] / "fixtures" / "engine_doors"
TARIFFS = DOORS / "tariffs"
CDR = str(DOORS / "cdr_nl_grx.json")
REQUEST = Path(__file__).resolve().parents[1] / "engine_adapters" / "fixtures" / "quote_request.json"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_lint_reads_every_family_of_the_demo_tree(capsys):
    code, out, _ = run(capsys, "lint", "--tariff", str(TARIFFS), "--currency", "CAD")
    lines = out.splitlines()
    files = sorted(str(p.relative_to(TARIFFS)) for p in TARIFFS.rglob("*.json"))
    assert len(files) == 26
    for name in files:  # every file reported, each with its family, none unrecognised
        family = name.split("/")[0]
        assert any(line.startswith(f"{name} ({family}):") for line in lines), name
    assert "unrecognised" not in out and "unknown or unsupported field" not in out
    # the three platform tariffs the engine refuses are errors at their JSON path, the rest lint clean of errors
    errors = {line.split(" ")[0]: line for line in lines if " ERROR " in line}
    assert set(errors) == {"platform/205.json", "platform/210.json", "platform/212.json"}
    assert "$.pricing.lockPriceOnSessionStart" in errors["platform/205.json"]
    assert code == 1


def test_lint_of_a_bare_eevion_tariff_without_currency_says_what_to_pass(capsys):
    code, out, _ = run(capsys, "lint", "--tariff", str(TARIFFS / "eevion" / "6a0e00000000000000007102.json"))
    assert code == 1 and "MALFORMED" in out and "$.currency" in out and "--currency" in out
    code, out, _ = run(capsys, "lint", "--tariff", str(TARIFFS / "platform" / "203.json"))
    assert code == 0 and "platform/203.json" not in out and "203.json (platform)" in out


@pytest.mark.parametrize(("tariff", "excl", "incl"), [
    # FLAT 0.29 + 37.403 kWh x 0.49 = 18.61747 excl; x 1.21 = 22.5271387 incl
    ("ocpi/NL-GRX-DC.json", "18.6175", "22.5271"),
    # platform flat rate 6.00, prices gross without a tax split
    ("platform/203.json", "6.0000", "6.0000"),
    # Eevion time 2.00/h on 0.248056 h of charging = 0.496112 (no taxes given: N/A)
    ("eevion/6a0e00000000000000007102.json", "0.4961", "0.4961"),
])
def test_price_cdr_takes_every_family(capsys, tariff, excl, incl):
    code, out, err = run(capsys, "price-cdr", "--cdr", CDR, "--tariff", str(TARIFFS / tariff), "--currency", "EUR")
    assert code == 0, err
    assert json.loads(out)["total_cost"] == {"excl_vat": excl, "incl_vat": incl}


def test_explain_prints_units_and_integer_indexes(capsys):
    code, out, _ = run(capsys, "explain", "--cdr", CDR, "--tariff", str(TARIFFS / "ocpi" / "NL-GRX-DC.json"))
    assert code == 0
    header, _, *rows = out.splitlines()
    assert header.split() == ["period", "dimension", "element", "component", "unit", "raw", "billed", "step",
                              "price", "(EUR/unit)", "excl", "(EUR)", "tax", "(EUR)"]
    flat, energy = rows[0].split(), rows[1].split()
    assert flat[:5] == ["0", "FLAT", "0", "0", "session"]
    assert energy[:6] == ["0", "ENERGY", "0", "1", "kWh", "37.403"] and energy[8] == "0.49"
    assert "total_energy             37.403000 kWh" in out


def test_quote_reads_a_folder_of_subfolders_of_every_family(capsys):
    code, out, err = run(capsys, "quote", "--request", str(REQUEST), "--tariffs", str(TARIFFS), "--currency", "EUR",
                         "--date", "2026-10-24", "--timezone", "Europe/Amsterdam")
    assert code == 0, err
    response = json.loads(out)
    priced = {item["relationships"]["tariff"]["data"]["id"]: item["attributes"]["charge_point_prices"][0]["price"]
              for item in response["data"]}
    unpriced = {entry["tariff"]: entry["reason"] for entry in response["meta"]["unpriced_tariffs"]}
    assert len(priced) + len(unpriced) == 26  # nothing dropped
    # one per family, hand-computed for 30 kWh in 60 min: Eevion time 2.00/h x 1 h; platform flat 6.00;
    # OCPI NL-GRX-DC 0.29 + 30 x 0.49 = 14.99 x 1.21 = 18.1379 -> 18.14
    assert (Decimal(str(priced["6a0e00000000000000007102"])), Decimal(str(priced["203"])),
            Decimal(str(priced["NL-GRX-DC"]))) == (Decimal(2), Decimal(6), Decimal("18.14"))
    assert unpriced["CA-MPL-AC"] == "tariff is priced in CAD, not EUR (no exchange rates)"
    assert "$.type" in unpriced["212"]


def test_empty_and_wrong_folders_are_clear_errors(tmp_path, capsys):
    (tmp_path / "only-a-subfolder").mkdir()
    with pytest.raises(TariffSourceError, match=r"no \*.json tariff files .*\(it holds: only-a-subfolder\)"):
        load_tariff_directory(tmp_path)
    with pytest.raises(TariffSourceError, match="tariff folder not found"):
        load_tariff_directory(tmp_path / "missing")
    code, _, err = run(capsys, "quote", "--request", str(REQUEST), "--tariffs", str(tmp_path))
    assert code == 2 and "no *.json tariff files" in err
    code, _, err = run(capsys, "lint", "--tariff", str(tmp_path))
    assert code == 2 and "no *.json tariff files" in err
    shutil.copy(TARIFFS / "platform" / "203.json", tmp_path / "only-a-subfolder" / "203.json")
    assert [entry.tariff_id for entry in load_tariff_directory(tmp_path)] == ["203"]
    code, _, err = run(capsys, "price-cdr", "--cdr", CDR, "--tariff", str(tmp_path))
    assert code == 2 and "is a folder" in err


def test_every_flag_shows_its_default_or_that_it_is_required():
    parser = build_parser()
    subcommands = parser._subparsers._group_actions[0].choices  # noqa: SLF001 - the registered subcommands
    assert {"price-cdr", "explain", "lint", "quote", "align", "price-cdrs"} <= set(subcommands)
    for name, command in subcommands.items():
        rendered = " ".join(command.format_help().split())
        formatter = command.formatter_class(prog=name)
        for action in command._actions:  # noqa: SLF001
            if not action.option_strings or action.dest == "help":
                continue
            text = formatter._get_help_string(action) % {"default": action.default}  # noqa: SLF001
            assert "(default:" in text or "(required)" in text or "default" in (action.help or ""), f"{name} {action.dest}"
            assert " ".join(text.split()) in rendered, f"{name} {action.dest}"


@pytest.mark.parametrize(("tariff", "unit"), [("ocpi/NL-GRX-DC.json", "kWh"), ("platform/203.json", "session"),
                                              ("eevion/6a0e00000000000000007102.json", "h")])
def test_explain_takes_every_family(capsys, tariff, unit):
    code, out, err = run(capsys, "explain", "--cdr", CDR, "--tariff", str(TARIFFS / tariff), "--currency", "EUR")
    assert code == 0, err
    header, _, *rows = out.splitlines()
    assert "unit" in header.split()
    first = rows[0].split()
    assert first[0] == "0" and first[2].isdigit() and first[3].isdigit()  # integer period/element/component
    assert any(row.split()[4] == unit for row in rows if len(row.split()) > 4)


def test_price_cdrs_takes_tariffs_of_every_family_from_a_folder(tmp_path, capsys):
    # the demo CDR re-pointed at each family's tariff (sealed tariffs removed): the same totals as price-cdr
    cdr = json.loads(Path(CDR).read_text())
    cdr.pop("tariffs", None)
    lines = []
    for tariff_id in ("NL-GRX-DC", "203", "6a0e00000000000000007102"):
        for period in cdr["charging_periods"]:
            period["tariff_id"] = tariff_id
        lines.append(json.dumps({**cdr, "id": tariff_id}))
    cdrs = tmp_path / "cdrs.jsonl"
    cdrs.write_text("\n".join(lines) + "\n")
    out = tmp_path / "priced.jsonl"
    code, _, err = run(capsys, "price-cdrs", "--cdrs", str(cdrs), "--tariffs", str(TARIFFS), "--currency", "EUR",
                       "--out", str(out))
    assert code == 0 and "3 CDRs: 3 priced" in err, err
    rows = [json.loads(line) for line in out.read_text().split("\n") if line]
    assert [(r["tariff_id"], r["total_cost_excl"], r["total_cost_incl"]) for r in rows] == [
        ("NL-GRX-DC", "18.6175", "22.5271"), ("203", "6.0000", "6.0000"),
        ("6a0e00000000000000007102", "0.4961", "0.4961")]
