"""The benchmark suite's runner (bench/suite.py): fingerprint, table, JSON, compare; no timings."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bench import suite
from bench.results import Row, SuiteContext


def _demo_tree(root, **files: str) -> None:
    for app, text in files.items():
        (root / app).mkdir(exist_ok=True)
        (root / app / "demo.py").write_text(text)


def test_demo_sha256_changes_with_a_demo_file_content(tmp_path):
    _demo_tree(tmp_path, roadmap="SEED = 1\n", feedback="SEED = 2\n")
    before = suite.demo_sha256(tmp_path)
    assert suite.demo_sha256(tmp_path) == before
    (tmp_path / "feedback" / "demo.py").write_text("SEED = 3\n")
    assert suite.demo_sha256(tmp_path) != before


def test_demo_sha256_changes_when_a_demo_file_appears_and_ignores_other_files(tmp_path):
    _demo_tree(tmp_path, roadmap="SEED = 1\n")
    before = suite.demo_sha256(tmp_path)
    (tmp_path / "roadmap" / "models.py").write_text("x = 1\n")
    (tmp_path / "notes.py").write_text("x = 1\n")
    assert suite.demo_sha256(tmp_path) == before
    _demo_tree(tmp_path, comms="SEED = 1\n")
    assert suite.demo_sha256(tmp_path) != before


def test_latest_migrations_keeps_the_highest_name_of_each_app():
    applied = [
        ("roadmap", "0002_feature_rank"),
        ("roadmap", "0001_initial"),
        ("feedback", "0001_initial"),
        ("roadmap", "0010_more"),
    ]
    assert suite.latest_migrations(applied) == {"feedback": "0001_initial", "roadmap": "0010_more"}


def test_fingerprint_changes_with_scale_seed_migration_and_demo_hash():
    base = {"scale": 1, "seed": 2027, "migrations": {"roadmap": "0001_initial"}, "demo_hash": "a"}
    same = suite.fingerprint(**base)
    assert suite.fingerprint(**base) == same
    for change in (
        {"scale": 10},
        {"seed": 1},
        {"migrations": {"roadmap": "0002_next"}},
        {"migrations": {"roadmap": "0001_initial", "comms": "0001_initial"}},
        {"demo_hash": "b"},
    ):
        assert suite.fingerprint(**{**base, **change}) != same, change


def _rows() -> list[Row]:
    return [
        Row("portal home: server time", "26.8 ms (min 26.3, max 27.8, n=7)", 26.8, "ms", "< 200 ms", True),
        Row("recompute ÷ floor", "3.10× (31.0 vs 10.0 ms)", 3.1, "×", "≤ 2× floor", False),
        Row("digests: process peak RSS", "131 MB", 131.0, "MB"),
    ]


def test_render_table_aligns_the_columns_and_says_yes_no_or_dash():
    lines = suite.render_table(_rows()).splitlines()
    assert lines[0].split() == ["benchmark", "figure", "target", "met"]
    assert set(lines[1]) == {"-", " "}
    assert [line.rsplit("  ", 1)[1] for line in lines[2:]] == ["yes", "no", "—"]
    # Every figure starts in the same column.
    column = lines[0].index("figure")
    assert [line[column:].split("  ")[0] for line in lines[2:]] == [row.figure for row in _rows()]


def test_targets_line_counts_only_rows_with_a_target():
    assert suite.targets_line(_rows()) == "targets met: 1/2"
    assert suite.targets_line([]) == "targets met: 0/0"


def test_a_module_without_suite_is_a_row_not_in_the_suite_yet(monkeypatch):
    import types

    monkeypatch.setitem(
        __import__("sys").modules, "bench.no_suite_here", types.ModuleType("bench.no_suite_here")
    )
    rows, error = suite.run_benchmark("no_suite_here", _ctx())
    assert error is None
    assert [(r.benchmark, r.figure, r.met) for r in rows] == [
        ("no_suite_here", "not in the suite yet", False)
    ]
    rows, error = suite.run_benchmark("not_written_yet", _ctx())
    assert (error, rows[0].figure, rows[0].met) == (None, "not in the suite yet", False)


def test_a_broken_benchmark_is_a_broken_row_with_its_traceback(monkeypatch):
    import types

    module = types.ModuleType("bench.broken_here")

    def broken(ctx):
        raise ValueError("wrong result: 3 != 4")

    module.suite = broken
    monkeypatch.setitem(__import__("sys").modules, "bench.broken_here", module)
    rows, error = suite.run_benchmark("broken_here", _ctx())
    assert [(r.figure, r.met) for r in rows] == [("BROKEN: ValueError: wrong result: 3 != 4", False)]
    assert "Traceback" in error
    assert "wrong result: 3 != 4" in error


def _ctx() -> SuiteContext:
    return SuiteContext(
        size="small",
        scale=1,
        seed=2027,
        database_url="postgres://postgres:secret@127.0.0.1:5432/productops_bench_small",
        redis_url="redis://127.0.0.1:6379/11",
    )


def _document() -> dict:
    rows = [("portal_pages", row) for row in _rows()]
    rows.append(("digests", Row("zero floor", "inf×", float("inf"), "×")))
    return suite.results_document(
        ctx=_ctx(),
        started=datetime(2026, 12, 1, 22, 0, 0, tzinfo=UTC),
        finished=datetime(2026, 12, 1, 22, 1, 30, tzinfo=UTC),
        machine_info={"cores": 2, "memory_bytes": 24 * 2**30, "cpu_model": "Test CPU", "postgresql": "15.4"},
        load_start=(0.5, 0.4, 0.30078125),
        load_end=(1.5, 1.0, 0.5),
        dataset={"reused": True, "build_seconds": 0.0},
        benchmarks=[{"name": "portal_pages", "seconds": 6.6, "error": None}],
        rows=rows,
    )


def test_results_json_has_the_machine_block_and_the_rows(tmp_path):
    started = datetime(2026, 12, 1, 22, 0, 0, tzinfo=UTC)
    path = suite.write_results(suite.results_path(started, "small", tmp_path), _document())
    assert path.name == "20261201T220000Z-small.json"
    written = json.loads(path.read_text())
    assert written["machine"] == {
        "cores": 2,
        "memory_bytes": 24 * 2**30,
        "cpu_model": "Test CPU",
        "postgresql": "15.4",
        "load_average_start": [0.5, 0.4, 0.3],
        "load_average_end": [1.5, 1.0, 0.5],
    }
    assert (written["size"], written["scale"], written["seed"], written["wall_s"]) == ("small", 1, 2027, 90.0)
    assert written["database"] == "postgres://postgres@127.0.0.1:5432/productops_bench_small"
    assert written["targets_met"] == "1/2"
    assert [(r["module"], r["benchmark"], r["value"], r["met"]) for r in written["rows"]] == [
        ("portal_pages", "portal home: server time", 26.8, True),
        ("portal_pages", "recompute ÷ floor", 3.1, False),
        ("portal_pages", "digests: process peak RSS", 131.0, None),
        ("digests", "zero floor", None, None),
    ]


@pytest.mark.django_db
def test_machine_describes_cores_memory_python_and_git():
    info = suite.machine()
    assert info["cores"] >= 1
    assert set(info) >= {"memory_bytes", "cpu_model", "python", "postgresql", "git_commit", "git_dirty"}


def test_compare_prints_both_runs_side_by_side_with_ratios():
    a = _document()
    b = json.loads(json.dumps(a))
    b["rows"][0]["value"] = 53.6
    b["rows"][1]["met"] = True
    b["rows"][1]["value"] = 1.55
    b["rows"] = [*b["rows"][:2], {"benchmark": "new row", "value": 4.0, "unit": "s", "met": None}]
    lines = suite.compare(a, b, a_name="a.json", b_name="b.json").splitlines()
    assert lines[0].startswith("A: a.json — 2026-12-01T22:00:00+00:00, small (scale 1), 2 cores, Test CPU")
    assert lines[1].startswith("B: b.json")
    table = [line.split("  ") for line in lines[3:]]
    cells = [[cell.strip() for cell in line if cell.strip()] for line in table]
    assert cells[0] == ["benchmark", "A", "B", "B/A"]
    assert cells[2:] == [
        ["portal home: server time", "26.80 ms (yes)", "53.60 ms (yes)", "2.00"],
        ["recompute ÷ floor", "3.10× (no)", "1.55× (yes)", "0.50"],
        ["digests: process peak RSS", "131 MB (—)", "—", "—"],
        ["zero floor", "— (—)", "—", "—"],
        ["new row", "—", "4 s (—)", "—"],
    ]


@pytest.mark.django_db
def test_the_dataset_is_reused_until_its_scale_or_its_rows_change(settings):
    from feedback.models import Company
    from productops.models import Workspace
    from roadmap.models import Feature
    from tests.feedback.factories import CompanyFactory

    reused, _ = suite.ensure_dataset(scale=1)
    assert reused is False
    features = Feature.objects.filter(workspace__slug="demo").count()
    assert suite.ensure_dataset(scale=1)[0] is True
    # A benchmark that left a row behind: the dataset is rebuilt, as it was.
    CompanyFactory(workspace=Workspace.objects.get(slug="demo"), name="Left behind")
    assert suite.ensure_dataset(scale=1)[0] is False
    assert Feature.objects.filter(workspace__slug="demo").count() == features
    assert not Company.objects.filter(name="Left behind").exists()
    assert Workspace.objects.filter(slug="demo").count() == 1
    assert suite.ensure_dataset(scale=1)[0] is True
