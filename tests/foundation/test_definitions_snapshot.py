"""A text snapshot of the Dagster layer, so an unintended change to the asset graph shows up in review.

tests/fixtures/definitions_snapshot.txt lists every asset (group, partitions, kinds, pool, dependencies),
every asset check, every job with the assets it selects, every schedule and every sensor with its target.
When a change is intended, regenerate it and commit the diff with the change:

    UPDATE_SNAPSHOT=1 .venv/bin/python -m pytest tests/foundation/test_definitions_snapshot.py
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import dagster as dg

from assets.partitions import daily, monthly
from pipelines.definitions import defs

SNAPSHOT = Path(__file__).resolve().parents[1] / "fixtures" / "definitions_snapshot.txt"


def _partitions(partitions_def) -> str:
    # By name, not by start date: the start is configuration (assets/partitions.py), not structure.
    if partitions_def is None:
        return "-"
    if partitions_def == daily:
        return "daily"
    if partitions_def == monthly:
        return "monthly"
    return type(partitions_def).__name__


def _keys(keys) -> str:
    return ", ".join(sorted(k.to_user_string() for k in keys)) or "-"


def _job_assets(repo, job_name: str) -> str:
    job = repo.get_job(job_name)
    return _keys(job.asset_layer.executable_asset_keys) if job.asset_layer else "-"


def render() -> str:
    """The snapshot text: one line per asset, check, job, schedule and sensor, sorted."""
    repo = defs.get_repository_def()
    graph = defs.resolve_asset_graph()
    lines = ["# Dagster definitions snapshot (tests/foundation/test_definitions_snapshot.py; UPDATE_SNAPSHOT=1)", "",
             "## assets: key | group | partitions | kinds | pool | deps"]
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        if not node.is_materializable:
            lines.append(f"{key.to_user_string()} | external")
            continue
        assets_def = node.assets_def
        # A graph-backed asset (the OCPP assets) has ops, not one op with a pool.
        pool = getattr(assets_def.node_def, "pool", None) if assets_def.is_executable else None
        lines.append(" | ".join([key.to_user_string(), node.group_name or "-", _partitions(node.partitions_def),
                                 ",".join(sorted(node.kinds)) or "-", pool or "-", _keys(node.parent_keys)]))
    lines += ["", "## asset checks: asset.check | blocking"]
    for check_key in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        spec = graph.get_check_spec(check_key)
        lines.append(f"{check_key.asset_key.to_user_string()}.{check_key.name} | "
                     f"{'blocking' if spec.blocking else 'non-blocking'}")
    lines += ["", "## jobs: name | partitions | selected assets"]
    for name in sorted(n for n in repo.job_names if not n.startswith("__")):
        job = repo.get_job(name)
        lines.append(f"{name} | {_partitions(job.partitions_def)} | {_job_assets(repo, name)}")
    lines += ["", "## schedules: name | cron | timezone | job | default status"]
    for schedule in sorted(repo.schedule_defs, key=lambda s: s.name):
        lines.append(f"{schedule.name} | {schedule.cron_schedule} | {schedule.execution_timezone or '-'} | "
                     f"{schedule.job_name} | {schedule.default_status.value}")
    lines += ["", "## sensors: name | type | min interval s | default status | target"]
    for sensor in sorted(repo.sensor_defs, key=lambda s: s.name):
        if sensor.asset_selection is not None:
            target = "assets " + _keys(sensor.asset_selection.resolve(graph))
        else:
            jobs = [t.job_name for t in sensor.targets]
            target = "; ".join(f"assets {_job_assets(repo, j)}" if j.startswith("__") else f"job {j}" for j in jobs)
        lines.append(f"{sensor.name} | {sensor.sensor_type.value} | {sensor.minimum_interval_seconds} | "
                     f"{sensor.default_status.value} | {target or '-'}")
    return "\n".join(lines) + "\n"


def test_definitions_match_the_snapshot():
    current = render()
    if os.environ.get("UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(current)
    expected = SNAPSHOT.read_text()
    diff = "".join(difflib.unified_diff(expected.splitlines(True), current.splitlines(True),
                                        "definitions_snapshot.txt", "current definitions"))
    assert current == expected, ("The Dagster definitions changed. If that is intended, regenerate with "
                                 "UPDATE_SNAPSHOT=1 and commit the snapshot:\n" + diff)


def test_the_snapshot_names_what_it_should():
    text = render()
    assert "\nsessions | sessions | daily | " in text
    assert "\nnightly_settlement | daily | " in text and "\nnightly_settlement_schedule | " in text
    assert "\nlate_data_resettlement | RUN_STATUS | " in text
    assert isinstance(defs, dg.Definitions)
