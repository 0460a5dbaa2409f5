"""Shipped code never imports from tests/, and the demo's partner receiver is packaged.

The demo's Charge API export used to import its loopback receiver from `tests/standins/`; it now lives in
`data/partners/` (a package setuptools ships), and the tests re-export it.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("pipelines", "assets", "sensors", "resources", "tariff_engine", "data")


def _imports_of(path: Path) -> list[str]:
    modules = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.append(node.module)
    return modules


def test_no_shipped_module_imports_from_tests():
    offenders = [f"{path.relative_to(ROOT)}: {module}"
                 for package in SHIPPED for path in sorted((ROOT / package).rglob("*.py"))
                 for module in _imports_of(path) if module == "tests" or module.startswith("tests.")]
    assert offenders == []


def test_demo_partner_receiver_is_packaged():
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = set(find_packages(where=str(ROOT), include=include))
    assert {"data.partners", "pipelines"} <= packages
    assert not any(p == "tests" or p.startswith("tests.") for p in packages)


def test_tests_use_the_same_receiver_class():
    from data.partners.charge_api import ChargeApiStandin
    from data.partners.loopback import Fault
    from tests.standins.base import Fault as TestFault
    from tests.standins.charge_api import ChargeApiStandin as TestStandin

    assert TestStandin is ChargeApiStandin and TestFault is Fault
