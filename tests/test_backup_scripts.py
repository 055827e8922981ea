"""scripts/backup.sh and restore.sh on the test database: a readable dump, retention, refusals.

The full proof, a dump restored into a working database, is scripts/restore_drill.py (run by
.ci/run; minutes, so not here). These run the scripts for real but only read the test database.
"""

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    shutil.which("pg_dump") is None, reason="PostgreSQL's client tools are missing"
)


@pytest.fixture
def pg_url(db):
    if connection.vendor != "postgresql":
        pytest.skip("the scripts back up PostgreSQL only")
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s["PASSWORD"] else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _script(name: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / name), *args],
        cwd=ROOT,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_backup_writes_a_readable_timestamped_dump_and_keeps_the_newest(pg_url, tmp_path):
    first = _script("backup.sh", str(tmp_path), DATABASE_URL=pg_url, BACKUP_KEEP="1")
    time.sleep(1.1)  # the names have one-second timestamps
    second = _script("backup.sh", str(tmp_path), DATABASE_URL=pg_url, BACKUP_KEEP="1")

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    dump = Path(second.stdout.strip())
    assert re.fullmatch(rf"productops-{connection.settings_dict['NAME']}-\d{{8}}T\d{{6}}Z\.dump", dump.name)
    assert sorted(tmp_path.iterdir()) == [dump]  # the first one went (BACKUP_KEEP=1)
    listing = subprocess.run(["pg_restore", "--list", str(dump)], capture_output=True, text=True, check=True)
    assert "TABLE public roadmap_feature" in listing.stdout


def test_restore_refuses_a_database_that_has_tables(pg_url, tmp_path):
    dump = Path(_script("backup.sh", str(tmp_path), DATABASE_URL=pg_url).stdout.strip())

    result = _script("restore.sh", str(dump), pg_url)

    assert result.returncode == 1
    assert "already has" in result.stderr
    assert "restore into a new or empty one" in result.stderr


def test_restore_refuses_a_file_that_is_not_a_dump_before_creating_anything(pg_url, tmp_path):
    junk = tmp_path / "junk.dump"
    junk.write_text("not an archive")
    target = pg_url.rsplit("/", 1)[0] + "/productops_drill_never_created"

    result = _script("restore.sh", "--create", str(junk), target)

    assert result.returncode == 2
    assert "not a pg_dump custom-format archive" in result.stderr
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_database WHERE datname = 'productops_drill_never_created'")
        assert cursor.fetchone()[0] == 0


def test_backup_refuses_a_database_that_is_not_postgresql(tmp_path):
    result = _script("backup.sh", str(tmp_path), DATABASE_URL="sqlite:///var/productops.sqlite3")

    assert result.returncode == 2
    assert "only PostgreSQL is backed up" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["backup.sh", "restore.sh", "restore_drill.py"])
def test_the_scripts_are_executable(name):
    assert (ROOT / "scripts" / name).stat().st_mode & 0o111
