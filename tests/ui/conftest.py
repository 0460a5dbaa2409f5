"""UI tests drive a real headless Chromium; they run with `make test-ui` (which installs Debian's chromium and
sets CHARGELEDGER_UI_TESTS=1), not in `make test`."""

import os

import pytest


def pytest_collection_modifyitems(config, items):
    if os.environ.get("CHARGELEDGER_UI_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="browser test: run `make test-ui` (sets CHARGELEDGER_UI_TESTS=1)")
    for item in items:
        if "tests/ui/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(skip)
