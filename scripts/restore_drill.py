"""Restore drill: prove that a backup restores into a working productops database.

``.venv/bin/python scripts/restore_drill.py [--server URL] [--scale N] [--keep] [--fresh]``

On the PostgreSQL server at ``--server`` (default ``$DRILL_SERVER_URL``, else
``postgres://postgres@127.0.0.1:5432/postgres``; a URL to its maintenance database) it:

1. creates ``productops_drill_<id>_source`` as a copy of a migrated and seeded template,
   ``productops_drill__tpl_<hash>_s<N>`` (``migrate``, then ``seed_demo --scale N --force``;
   built once for each set of migrations, ``productops/db/roles.py`` and demo seeders, and kept
   for the next drill), with the template's per-database role settings (which a copy does not
   inherit); with ``--fresh`` it migrates and seeds the source itself instead;
2. counts the rows of every table and reads every sequence's position;
3. backs it up with ``scripts/backup.sh`` (timed, sized);
4. restores the dump with ``scripts/restore.sh --create`` into ``productops_drill_<id>_restored``
   (timed; ``restore.sh`` runs ``manage.py migrate --check``, then ``migrate`` for the role's
   timeouts), then runs ``manage.py check``;
5. compares the counts and sequences table by table, and the role's per-database settings;
6. reads through the app on both databases: the demo workspace's roadmap selector, and the
   portal's roadmap page and the API's feature list through Django's test client as the demo
   owner; the restored answers must equal the source's;
7. drops both databases (unless ``--keep``), prints the figures, exits 1 on any mismatch.

It creates and drops only the two databases it names (``productops_drill_`` and a fresh id), and
keeps one template (dropping the templates of older migrations or seeders), so it is safe on a
shared server. The template changes nothing the drill proves: the source is still a database
built by this code's migrations and seeders, dumped and restored by the two scripts. The app
runs with production settings (DEBUG off) on a temporary ``VAR_DIR``, without Redis: nothing
outside its own databases is touched.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "productops_drill_"
TEMPLATE_PREFIX = f"{PREFIX}_tpl_"
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
# The tables printed by name (every table is compared).
KEY_TABLES = [
    "productops_workspace",
    "productops_user",
    "roadmap_feature",
    "feedback_feedbackitem",
    "feedback_company",
    "feedback_vote",
    "releases_release",
    "productops_auditevent",
]

# Run by `manage.py shell -c` against each database; prints one JSON line.
APP_READ = """
import json
from django.test import Client
from productops.models import User, Workspace
from roadmap import selectors

workspace = Workspace.objects.get(slug="demo")
groups = selectors.roadmap_by_horizon(features=selectors.feature_summary_list(workspace=workspace))
client = Client(HTTP_HOST="localhost")
client.force_login(User.objects.get(username="demo"))
page = client.get("/w/demo/roadmap/", secure=True)
api = client.get("/api/v1/workspaces/demo/features/?page_size=100", secure=True)
print("APP_READ " + json.dumps({
    "roadmap": {key: [group.count, [f.id for f in group.features]] for key, group in groups.items()},
    "portal_roadmap_status": page.status_code,
    "api_features_status": api.status_code,
    "api_features": api.json() if api.status_code == 200 else None,
}, sort_keys=True))
"""


class DrillFailed(Exception):
    pass


def database_url(server_url: str, name: str) -> str:
    base, _, rest = server_url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{rest}" if rest else "")


def app_env(url: str, var_dir: Path) -> dict[str, str]:
    """Production settings on the given database, without Redis or any shared state."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "REDIS_", "DJANGO_SETTINGS_MODULE"))
        and k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "VAR_DIR"}
    }
    env.update(
        DATABASE_URL=url,
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="localhost",
        VAR_DIR=str(var_dir),
        PYTHON=sys.executable,
    )
    return env


def run(command: list[str], env: dict[str, str], what: str) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DrillFailed(f"{what} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return run([sys.executable, "manage.py", *args], env, "manage.py " + " ".join(args[:2]))


def template_name(scale: int) -> str:
    """Named after what builds its content: the migrations, what ``migrate`` sets besides them
    (the role's timeouts), the seed command and the demo seeders; and the scale."""
    digest = hashlib.sha256()
    inputs = [
        *ROOT.glob("*/migrations/*.py"),
        ROOT / "productops" / "db" / "roles.py",
        ROOT / "productops" / "management" / "commands" / "seed_demo.py",
        *ROOT.glob("*/demo.py"),
    ]
    for path in sorted(p for p in inputs if p.is_file() and ".venv" not in p.parts):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return f"{TEMPLATE_PREFIX}{digest.hexdigest()[:12]}_s{scale}"


def seeded_template(server_url: str, scale: int, var_dir: Path, figures: dict[str, object]) -> str:
    """The migrated and seeded template database, built if missing (under an advisory lock,
    so concurrent drills build it once; under a temporary name, so a failed build is never
    reused)."""
    name = template_name(scale)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('productops_drill_template'))")
        try:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                figures["template"] = f"{name} (reused)"
                return name
            building = f"{PREFIX}_build_{uuid.uuid4().hex[:10]}"
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(building)))
            try:
                env = app_env(database_url(server_url, building), var_dir)
                step = time.monotonic()
                manage(env, "migrate", "--noinput", "-v", "0")
                figures["migrate_seconds"] = round(time.monotonic() - step, 1)
                step = time.monotonic()
                manage(env, "seed_demo", "--scale", str(scale), "--force")
                figures["seed_seconds"] = round(time.monotonic() - step, 1)
                # The role's per-database settings (set by migrate) follow the rename.
                conn.execute(
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                        sql.Identifier(building), sql.Identifier(name)
                    )
                )
            except BaseException:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(building))
                )
                raise
            # Templates of other migrations or seeders are of no use any more.
            for (old,) in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s",
                [TEMPLATE_PREFIX.replace("_", "\\_") + "%", name],
            ).fetchall():
                with contextlib.suppress(psycopg.Error):
                    conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(old)))
            figures["template"] = f"{name} (built)"
            return name
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext('productops_drill_template'))")


def create_from_template(server_url: str, name: str, template: str) -> None:
    """``name`` as a copy of ``template``, with the template's per-database role settings (the
    timeouts migrate set): they live in the shared catalog, so a copy does not inherit them."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
        )
        rows = conn.execute(
            "SELECT r.rolname, s.setconfig FROM pg_db_role_setting s "
            "JOIN pg_database d ON d.oid = s.setdatabase LEFT JOIN pg_roles r ON r.oid = s.setrole "
            "WHERE d.datname = %s",
            [template],
        ).fetchall()
        for role, config in rows:
            for item in config:
                key, value = item.split("=", 1)
                statement = (
                    "ALTER ROLE {} IN DATABASE {} SET {} = {}" if role else "ALTER DATABASE {1} SET {2} = {3}"
                )
                conn.execute(
                    sql.SQL(statement).format(
                        sql.Identifier(role or ""),
                        sql.Identifier(name),
                        sql.Identifier(key),
                        sql.Literal(value),
                    )
                )


def table_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
        ).fetchall()
        counts = {}
        for schema, table in tables:
            query = sql.SQL("SELECT count(*) FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            counts[f"{schema}.{table}"] = conn.execute(query).fetchone()[0]
        return counts


def sequence_positions(url: str) -> dict[str, int | None]:
    """Each sequence's last value: a restore that loses it would hand out ids already used."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT schemaname || '.' || sequencename, last_value FROM pg_sequences ORDER BY 1"
        ).fetchall()
        return dict(rows)


def role_settings(server_url: str, name: str) -> dict[str, str]:
    """The per-database role defaults (statement and lock timeouts) set by ``migrate``."""
    with psycopg.connect(server_url) as conn:
        rows = conn.execute(
            "SELECT r.rolname, s.setconfig FROM pg_db_role_setting s "
            "JOIN pg_database d ON d.oid = s.setdatabase LEFT JOIN pg_roles r ON r.oid = s.setrole "
            "WHERE d.datname = %s",
            [name],
        ).fetchall()
    return {
        f"{role or '(all roles)'}.{item.split('=', 1)[0]}": item for role, config in rows for item in config
    }


def app_read(env: dict[str, str]) -> dict:
    result = manage(env, "shell", "-c", APP_READ)
    lines = [line for line in result.stdout.splitlines() if line.startswith("APP_READ ")]
    if not lines:
        raise DrillFailed(f"the app read printed nothing:\n{result.stdout}\n{result.stderr}")
    return json.loads(lines[-1].removeprefix("APP_READ "))


def compare(label: str, source: dict, restored: dict) -> list[str]:
    problems = []
    for key in sorted(set(source) | set(restored)):
        if source.get(key, "missing") != restored.get(key, "missing"):
            problems.append(
                f"{label} {key}: source {source.get(key, 'missing')}, restored {restored.get(key, 'missing')}"
            )
    return problems


def drill(server_url: str, scale: int, keep: bool, fresh: bool = False) -> int:
    drill_id = uuid.uuid4().hex[:10]
    names = {"source": f"{PREFIX}{drill_id}_source", "restored": f"{PREFIX}{drill_id}_restored"}
    urls = {key: database_url(server_url, name) for key, name in names.items()}
    created: list[str] = []
    figures: dict[str, object] = {"databases": names}
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="restore_drill_") as tmp:
            tmp_path = Path(tmp)
            env = {key: app_env(url, tmp_path / key) for key, url in urls.items()}

            if fresh:
                with psycopg.connect(server_url, autocommit=True) as conn:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(names["source"])))
                created.append(names["source"])
                step = time.monotonic()
                manage(env["source"], "migrate", "--noinput", "-v", "0")
                figures["migrate_seconds"] = round(time.monotonic() - step, 1)
                step = time.monotonic()
                manage(env["source"], "seed_demo", "--scale", str(scale), "--force")
                figures["seed_seconds"] = round(time.monotonic() - step, 1)
            else:
                template = seeded_template(server_url, scale, tmp_path / "template", figures)
                step = time.monotonic()
                created.append(names["source"])
                create_from_template(server_url, names["source"], template)
                figures["copy_seconds"] = round(time.monotonic() - step, 2)
            source_counts = table_counts(urls["source"])
            source_sequences = sequence_positions(urls["source"])

            step = time.monotonic()
            backup = run(
                ["bash", "scripts/backup.sh", str(tmp_path / "backups")],
                {**env["source"], "BACKUP_KEEP": "1"},
                "scripts/backup.sh",
            )
            figures["dump_seconds"] = round(time.monotonic() - step, 2)
            dump = Path(backup.stdout.strip().splitlines()[-1])
            figures["dump_bytes"] = dump.stat().st_size

            step = time.monotonic()
            created.append(names["restored"])  # --create makes it; drop it whatever happens next
            restore = run(
                ["bash", "scripts/restore.sh", "--create", str(dump), urls["restored"]],
                env["restored"],
                "scripts/restore.sh",
            )
            figures["restore_script_seconds"] = round(time.monotonic() - step, 2)
            # restore.sh times pg_restore and ANALYZE alone ("... restored into <db> in 1.2s").
            timed = re.search(r"restored into \S+ in ([0-9.]+)s", restore.stderr)
            figures["pg_restore_seconds"] = float(timed.group(1)) if timed else None
            manage(env["restored"], "check")

            restored_counts = table_counts(urls["restored"])
            problems = compare("rows", source_counts, restored_counts)
            problems += compare("sequence", source_sequences, sequence_positions(urls["restored"]))
            source_roles = role_settings(server_url, names["source"])
            problems += compare("role setting", source_roles, role_settings(server_url, names["restored"]))
            # Reads after the counts: signing in writes a session row.
            source_read = app_read(env["source"])
            restored_read = app_read(env["restored"])
            problems += compare("app read", source_read, restored_read)
            for key in ("portal_roadmap_status", "api_features_status"):
                if restored_read[key] != 200:
                    problems.append(f"app read {key}: {restored_read[key]}, not 200")
            if not source_counts.get("public.roadmap_feature"):
                problems.append("the seeded source has no features: the drill proved nothing")
    except DrillFailed as exc:
        print(f"restore drill FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if not keep:
            with psycopg.connect(server_url, autocommit=True) as conn:
                for name in created:
                    assert name.startswith(PREFIX)
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                    )

    figures["tables_compared"] = len(source_counts)
    figures["rows_compared"] = sum(source_counts.values())
    figures["sequences_compared"] = len(source_sequences)
    figures["role_settings_compared"] = sorted(source_roles.values())
    figures["key_tables"] = {t: source_counts.get(f"public.{t}") for t in KEY_TABLES}
    figures["roadmap_features_read"] = sum(count for count, _ in restored_read["roadmap"].values())
    figures["api_features_count"] = (restored_read["api_features"] or {}).get("count")
    figures["total_seconds"] = round(time.monotonic() - started, 1)
    figures["kept" if keep else "dropped"] = list(names.values())
    print(json.dumps(figures, indent=2))
    if problems:
        print("restore drill FAILED:", *problems, sep="\n  ", file=sys.stderr)
        return 1
    print(
        f"restore drill passed: {figures['tables_compared']} tables, {figures['rows_compared']} rows and "
        f"{figures['sequences_compared']} sequences equal; dump {figures['dump_bytes']} bytes in "
        f"{figures['dump_seconds']}s, pg_restore {figures['pg_restore_seconds']}s, restore.sh with "
        f"its migrate checks {figures['restore_script_seconds']}s, drill {figures['total_seconds']}s"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=os.environ.get("DRILL_SERVER_URL", DEFAULT_SERVER))
    parser.add_argument("--scale", type=int, default=1, help="seed_demo --scale (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep both databases to look at them")
    parser.add_argument(
        "--fresh", action="store_true", help="migrate and seed the source itself, not a copy of the template"
    )
    args = parser.parse_args(argv)
    return drill(args.server, args.scale, args.keep, args.fresh)


if __name__ == "__main__":
    sys.exit(main())
