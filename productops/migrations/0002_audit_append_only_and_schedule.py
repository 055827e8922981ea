"""The audit log refuses edits in the database, and the core's periodic tasks exist."""

from django.db import migrations

from productops.periodic import ensure_interval_task, remove_task

# Only the actor may change (to NULL when the user is deleted); every other column is fixed.
GUARDED = "workspace_id, actor_label, action, target_type, target_id, target_repr, changes, created_at"

POSTGRES_FORWARD = f"""
CREATE OR REPLACE FUNCTION productops_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER productops_auditevent_append_only
    BEFORE UPDATE OF {GUARDED} ON productops_auditevent
    FOR EACH ROW EXECUTE FUNCTION productops_audit_append_only();
"""
POSTGRES_REVERSE = """
DROP TRIGGER IF EXISTS productops_auditevent_append_only ON productops_auditevent;
DROP FUNCTION IF EXISTS productops_audit_append_only();
"""
SQLITE_FORWARD = f"""
CREATE TRIGGER productops_auditevent_append_only
    BEFORE UPDATE OF {GUARDED} ON productops_auditevent
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
"""
SQLITE_REVERSE = "DROP TRIGGER IF EXISTS productops_auditevent_append_only;"

PERIODIC = [
    ("productops: worker heartbeat", "productops.tasks.heartbeat", 60),
    ("productops: send pending invitation emails", "productops.tasks.invitations_send_pending", 300),
]


def forward_trigger(apps, schema_editor):
    sql = POSTGRES_FORWARD if schema_editor.connection.vendor == "postgresql" else SQLITE_FORWARD
    if schema_editor.connection.vendor in ("postgresql", "sqlite"):
        schema_editor.execute(sql)


def reverse_trigger(apps, schema_editor):
    sql = POSTGRES_REVERSE if schema_editor.connection.vendor == "postgresql" else SQLITE_REVERSE
    if schema_editor.connection.vendor in ("postgresql", "sqlite"):
        schema_editor.execute(sql)


def add_schedule(apps, schema_editor):
    for name, task, every in PERIODIC:
        ensure_interval_task(apps, name=name, task=task, every_seconds=every)


def remove_schedule(apps, schema_editor):
    for name, _, _ in PERIODIC:
        remove_task(apps, name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("productops", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(forward_trigger, reverse_trigger),
        migrations.RunPython(add_schedule, remove_schedule),
    ]
