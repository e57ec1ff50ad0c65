"""Pure parts of governance and measurement: merge patches, release notes, percentiles, and
the CloudWatch dashboard charting only metrics Shipshape emits."""

from __future__ import annotations

import re
from pathlib import Path

from shipshape.services.governance import merge_patch, release_notes
from shipshape.services.metrics import p90

ROOT = Path(__file__).parents[2]


def test_merge_patch_merges_objects_replaces_lists_and_deletes_on_null() -> None:
    base = {"rules": {"teams": {"ops": ["a", "b"], "qa": ["c"]}, "away_reassign_after_hours": 4}}
    patch = {"rules": {"teams": {"ops": ["a"], "qa": None}, "away_reassign_after_hours": 8}}
    assert merge_patch(base, patch) == {
        "rules": {"teams": {"ops": ["a"]}, "away_reassign_after_hours": 8}
    }
    assert base["rules"]["teams"]["qa"] == ["c"]  # the input is left alone


def test_release_notes_name_every_changed_leaf_with_its_old_and_new_value() -> None:
    before = {"fulfilment": {"partial_policy": "backorder", "services": ["ground", "postal"]},
              "rules": {"teams": {"qa": ["c"]}}}  # fmt: skip
    after = {"fulfilment": {"partial_policy": "hold_all", "services": ["ground"]},
             "rules": {"teams": {"ops": ["a"]}}}  # fmt: skip
    assert release_notes(before, after) == [
        "fulfilment.partial_policy: backorder → hold_all",
        "fulfilment.services: [ground, postal] → [ground]",
        "rules.teams.ops: added [a]",
        "rules.teams.qa: removed (was [c])",
    ]
    assert release_notes(before, before) == []


def test_p90_interpolates_between_ranks() -> None:
    assert p90([]) is None
    assert p90([5.0]) == 5.0
    assert p90([0.0, 1.0, 3.0]) == 2.6
    assert p90([float(n) for n in range(1, 11)]) == 9.1


def test_the_cloudwatch_dashboard_charts_only_metrics_shipshape_emits() -> None:
    # Given the names the dashboard searches for, and those business_metrics can emit
    template = (ROOT / "template.yaml").read_text()
    charted = set(re.findall(r'MetricName=\\?"(\w+)\\?"', template))
    source = (ROOT / "layers/shipshape/shipshape/observability.py").read_text()
    emitted = set(re.findall(r'"([A-Z]\w+)"', source))
    # Then every charted metric is emitted (a renamed metric would leave a chart empty)
    assert charted, "the dashboard charts nothing"
    assert charted <= emitted, charted - emitted
