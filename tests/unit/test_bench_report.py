"""The bench's pure parts: the table, results.json's shape, goals, the replay of captured
calls with fresh ids, and the API Gateway event. No timing here, and nothing asserted
about figures: the bench prints them, it never judges them."""

from __future__ import annotations

import json
import sys
import types
import zipfile
from pathlib import Path

import pytest

from bench.__main__ import BENCHES, Settings, selected
from bench.capacity import Units
from bench.fec_hook import fec_rows
from bench.package import package_size
from bench.replay import Call, fresh_ids, renamed, shape
from bench.results import SCHEMA, write
from bench.stats import Row, render

ROWS = [
    Row("latency", "booking via handler, median", "12.00 ms", "p95 20.00 ms", command="c"),
    Row("latency", "booking ratio handler / raw", "1.05x", "goal", figure=1.05, goal=1.1),
    Row("latency", "availability ratio HTTP / raw", "1.50x", "", figure=1.5, goal=1.2),
    Row("imports", "import app", "300.0 ms"),
]


def test_the_table_has_one_block_per_section_and_marks_goals() -> None:
    text = render(ROWS)
    assert text.count("== ") == 2
    assert "(c)" in text  # the command under its section
    assert "[ok]" in text and "[MISSED]" in text
    assert text.index("== latency") < text.index("== imports")


def test_results_json_holds_every_row_with_its_goal(tmp_path: Path) -> None:
    path = write(ROWS, {"command": "make bench", "quick": True}, tmp_path / "results.json")
    document = json.loads(path.read_text())
    assert document["schema"] == SCHEMA
    assert document["context"]["quick"] is True
    assert [r["name"] for r in document["rows"]] == [r.name for r in ROWS]
    by_name = {r["name"]: r for r in document["rows"]}
    assert by_name["booking ratio handler / raw"]["met"] is True
    assert by_name["availability ratio HTTP / raw"]["met"] is False
    assert by_name["import app"]["met"] is None
    assert set(by_name["import app"]) == {
        "section",
        "name",
        "value",
        "figure",
        "goal",
        "met",
        "note",
        "command",
    }


def test_replayed_calls_get_fresh_ids_and_keep_the_shared_ones() -> None:
    def booking(bkg: str, pi: str) -> list[Call]:
        item = {"PK": f"BOOKING#{bkg}", "resource": "res_aaaaaaaaaaaaaaaaaaaa", "pi": pi}
        return [
            Call("transact_write_items", {"TransactItems": [{"Put": {"Item": item}}]}),
            Call("put_item", {"Item": {"PK": f"PAYMENT#{pi}", "subject": bkg}}),
        ]

    one = booking("bkg_bbbbbbbbbbbbbbbbbbbb", "pi_1")
    two = booking("bkg_cccccccccccccccccccc", "pi_2")
    ids = fresh_ids([one, two])
    assert ids == {"bkg_bbbbbbbbbbbbbbbbbbbb", "bkg_cccccccccccccccccccc", "pi_1", "pi_2"}
    again = renamed(one, ids)
    item = again[0].params["TransactItems"][0]["Put"]["Item"]
    assert item["resource"] == "res_aaaaaaaaaaaaaaaaaaaa"
    assert item["PK"] != "BOOKING#bkg_bbbbbbbbbbbbbbbbbbbb" and item["PK"].startswith(
        "BOOKING#bkg_"
    )
    assert again[1].params["Item"]["subject"] == item["PK"].removeprefix("BOOKING#")  # same id
    assert one[0].params["TransactItems"][0]["Put"]["Item"]["PK"].endswith("b")  # copy
    assert shape(one) == "transact_write_items(1) + put_item"


def test_request_units_split_reads_and_writes() -> None:
    units = Units()
    units.add("TransactWriteItems", [{"TableName": "t", "CapacityUnits": 8.0}])
    units.add("GetItem", {"TableName": "t", "CapacityUnits": 1.0})
    units.add("Query", {"ReadCapacityUnits": 0.5, "CapacityUnits": 0.5})
    units.add("DescribeTable", None)
    assert (units.write, units.read, units.calls) == (8.0, 1.5, 4)


def test_fec_figures_are_taken_from_bench_fec(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("bench.fec")
    fake.measure = lambda: {"lines_per_s": 50_000.0, "peak_rss_mb": 80.0}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bench.fec", fake)
    monkeypatch.delattr("bench.fec", raising=False)
    rows = {r.name: r for r in fec_rows()}
    assert rows["peak_rss_mb"].goal == 256 and rows["peak_rss_mb"].met is True
    assert rows["lines_per_s"].goal is None


def test_fec_is_said_not_merged_without_bench_fec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "bench.fec", None)
    monkeypatch.delattr("bench.fec", raising=False)
    (row,) = fec_rows()
    assert row.value == "see bench/fec.py (not merged)"


def test_a_request_is_timed_by_the_apps_own_figure_when_it_gives_one() -> None:
    # The handler's call (or the HTTP exchange), without the bench's event and parsing.
    from bench.answers import Answer
    from bench.latency import elapsed

    assert elapsed(lambda i: Answer(200, None, elapsed=0.25), 0) == 0.25
    assert 0 <= elapsed(lambda i: None, 0) < 0.25  # no Answer: the whole call


def test_instruction_counts_say_so_when_valgrind_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bench import instructions

    monkeypatch.setattr(instructions.shutil, "which", lambda name: None)
    (row,) = instructions.instructions(5)
    assert (row.value, row.note) == ("-", "valgrind is not installed")
    assert instructions._COLLECTED.search("==1== Collected : 1234567\n").group(1) == "1234567"


def test_the_package_rows_add_the_layer_to_the_function_that_unpacks_it(tmp_path: Path) -> None:
    code, layer = tmp_path / "deployment.zip", tmp_path / "validation-layer.zip"
    for path, size in ((code, 3_000_000), (layer, 2_000_000)):
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("x", b"\0" * size)

    rows = {r.name: r for r in package_size(code, layer)}

    assert rows["route_einvoices, code + layer unzipped"].figure == pytest.approx(5.0)
    assert rows["deployment.zip, zipped (every function)"].met
    assert package_size(tmp_path / "none.zip", layer)[0].value == "not built"


def test_a_plain_run_skips_the_diagnostics_which_run_when_named() -> None:
    every = selected(Settings(quick=False, only=frozenset()))
    assert [*every[0], *every[1]] == list(BENCHES)
    named = selected(Settings(quick=False, only=frozenset({"floor", "instructions", "units"})))
    assert (list(named[0]), list(named[1])) == (["units", "floor"], ["instructions"])
