"""`python -m tariff_engine`: price-cdr, explain and lint through a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import EXAMPLES

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tariff_engine", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def _files(tmp_path: Path, cdr: dict | None = None) -> tuple[str, str]:
    cdr = cdr or json.loads((EXAMPLES / "2.2.1/cdr_example.json").read_text())
    cdr_file = tmp_path / "cdr.json"
    tariff_file = tmp_path / "tariff.json"
    cdr_file.write_text(json.dumps(cdr))
    tariff_file.write_text(json.dumps(cdr["tariffs"][0]))
    return str(cdr_file), str(tariff_file)


def test_price_cdr_prints_ocpi_totals(tmp_path):
    cdr, tariff = _files(tmp_path)
    done = _run("price-cdr", "--cdr", cdr, "--tariff", tariff)
    assert done.returncode == 0, done.stderr
    totals = json.loads(done.stdout)
    assert totals["total_cost"] == {"excl_vat": "4.0000", "incl_vat": "4.4000"}
    assert totals["total_time_cost"] == {"excl_vat": "4.0000", "incl_vat": "4.4000"}
    assert totals["total_parking_cost"] == {"excl_vat": "0.0000", "incl_vat": "0.0000"}


def test_price_cdr_without_resolvable_timezone_fails_clearly(tmp_path):
    cdr = json.loads((EXAMPLES / "2.2.1/cdr_example.json").read_text())
    cdr["cdr_location"]["country"] = "USA"
    cdr_file, tariff_file = _files(tmp_path, cdr)
    done = _run("price-cdr", "--cdr", cdr_file, "--tariff", tariff_file)
    assert done.returncode == 2
    assert "no time zone" in done.stderr and "--timezone" in done.stderr
    done = _run("price-cdr", "--cdr", cdr_file, "--tariff", tariff_file, "--timezone", "America/Chicago")
    assert done.returncode == 0 and json.loads(done.stdout)["total_cost"]["excl_vat"] == "4.0000"


def test_price_cdr_with_malformed_tariff_names_the_path(tmp_path):
    cdr_file, tariff_file = _files(tmp_path)
    Path(tariff_file).write_text(json.dumps({"id": "1", "currency": "EUR", "elements": [{"price_components": [
        {"type": "TIME", "price": 2, "step_size": 300, "colour": "red"}]}]}))
    done = _run("price-cdr", "--cdr", cdr_file, "--tariff", tariff_file)
    assert done.returncode == 2 and "$.elements[0].price_components[0].colour" in done.stderr


def test_explain_prints_the_breakdown_table(tmp_path):
    cdr, tariff = _files(tmp_path)
    done = _run("explain", "--cdr", cdr, "--tariff", tariff)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["period", "dimension", "element", "component", "unit", "raw", "billed", "step",
                                "price", "(EUR/unit)", "excl", "(EUR)", "tax", "(EUR)"]
    assert lines[2].split()[:5] == ["0", "TIME", "0", "0", "h"]
    assert lines[2].split()[6] == "2"  # 1.973 h billed as 2 h (step 300 s)
    assert any(line.startswith("total_cost") and "4.0000" in line and "4.4000" in line for line in lines)


def test_lint_reports_problems_with_paths_and_exit_code(tmp_path):
    tariff = {"id": "L", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}, {"type": "ENERGY", "price": 0.4, "step_size": 1}]},
        {"price_components": [{"type": "ENERGY", "price": 0.2, "step_size": 1}], "restrictions": {"max_power": 22000}},
        {"price_components": [{"type": "TIME", "price": 1.0, "step_size": 60}], "restrictions": {"start_time": "08:00", "end_time": "18:00"}},
    ]}
    path = tmp_path / "lint.json"
    path.write_text(json.dumps(tariff))
    done = _run("lint", "--tariff", str(path))
    assert done.returncode == 1
    out = done.stdout
    assert "DUPLICATE_DIMENSION" in out and "$.elements[0].price_components[1]" in out
    assert "UNITS_MIX" in out and "$.elements[1].restrictions.max_power" in out
    assert "UNREACHABLE_ELEMENT" in out and "$.elements[1]:" in out
    assert "NO_FALLBACK" in out and "TIME" in out
    clean = tmp_path / "clean.json"
    clean.write_text((EXAMPLES / "2.2.1/tariff_9_025kwh_start.json").read_text())
    done = _run("lint", "--tariff", str(clean))
    assert done.returncode == 0 and "no findings" in done.stdout


def test_help_lists_the_engine_commands():
    done = _run("--help")
    assert done.returncode == 0
    for command in ("price-cdr", "explain", "lint"):
        assert command in done.stdout
