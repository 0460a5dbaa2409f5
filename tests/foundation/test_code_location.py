"""The code location loads the way `make ui` and the daemon load it, and the jobs hold what they should."""

import os
import subprocess
import sys
from pathlib import Path

from pipelines.definitions import defs

ROOT = Path(__file__).resolve().parents[2]


def test_workspace_validates_like_the_webserver_loads_it(tmp_path):
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_every_asset_has_a_description_and_the_nightly_job_ends_with_the_catalog():
    graph = defs.resolve_asset_graph()
    undocumented = [k.to_user_string() for k in graph.get_all_asset_keys()
                    if graph.get(k).is_materializable and not (graph.get(k).description or "").strip()]
    assert undocumented == []
    nightly = set(defs.resolve_job_def("nightly_settlement").graph.node_dict)
    assert {"ocpi_cdrs", "ocpp_messages", "meter_readings", "transactions", "platform_sessions", "eevion_sessions",
            "interval_charges", "partner_changes", "sessions", "charging_periods", "clock_aligned_consumption",
            "priced_sessions", "analyst_catalog"} <= nightly
    # Nothing that calls an external API runs in the nightly job: fetches are the polling sensors' business.
    assert not {"platform_cdr_pages", "eevion_session_pages"} & nightly
    catalog_parents = {k.to_user_string() for k in graph.get(next(
        k for k in graph.get_all_asset_keys() if k.to_user_string() == "analyst_catalog")).parent_keys}
    assert {"sessions", "priced_sessions", "clock_aligned_consumption"} <= catalog_parents
