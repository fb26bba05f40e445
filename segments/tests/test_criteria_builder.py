"""The builder script's tree conversions (segments/static/segments/criteria_builder.js), run in
Node: the JSON a segment stores is drawn as rows and groups and written back unchanged."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from segments.tests.test_console import ROUND_TRIPS

SCRIPT = Path(__file__).resolve().parents[1] / "static" / "segments" / "criteria_builder.js"
NODE = shutil.which("node") or shutil.which("nodejs")

pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed: the builder script is not run")

RUNNER = """
const builder = require(process.argv[1]);
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = cases.map(function (tree) {
  const model = builder.rootFrom(tree);
  return { back: builder.toJson(model), model: model };
});
process.stdout.write(JSON.stringify(out));
"""


def _run(trees: list) -> list[dict]:
    done = subprocess.run(
        [NODE, "-e", RUNNER, str(SCRIPT)], input=json.dumps(trees), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_stored_shape_is_written_back_unchanged():
    results = _run(ROUND_TRIPS)

    assert [result["back"] for result in results] == ROUND_TRIPS


def test_groups_and_conditions_become_rows():
    nested = ROUND_TRIPS[8]  # all > any > (condition, not > condition)

    model = _run([nested])[0]["model"]

    assert model["op"] == "all" and model["children"][0]["op"] == "any"
    condition, negated = model["children"][0]["children"]
    assert condition == {"type": "condition", "field": "country", "op": "eq", "value": "IN", "window": None}
    assert negated["op"] == "not" and negated["children"][0]["field"] == "city"


def test_a_bare_condition_null_and_an_empty_group_start_an_all_group():
    bare = {"field": "city", "op": "eq", "value": "Pune"}

    results = _run([bare, None, {"all": []}])

    assert results[0]["back"] == {"all": [bare]}
    assert results[1]["back"] == {"all": []} and results[2]["back"] == {"all": []}


def test_a_not_group_of_several_rows_is_not_of_all():
    tree = {
        "not": {"all": [{"field": "city", "op": "eq", "value": "Pune"}, {"field": "orders", "op": "gt", "value": 1}]}
    }

    assert _run([tree])[0]["back"] == tree
