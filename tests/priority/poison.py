"""A real database failure for one workspace's recompute, for tests of the failure paths."""

from django.db import connection


def poison(workspace_id: int) -> None:
    """A trigger that refuses to mark the workspace's features clean: a real database error in
    the middle of a run, as a bad row would cause (no mock of the database)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"""
                CREATE OR REPLACE FUNCTION test_poison() RETURNS trigger AS $$
                BEGIN
                    IF NEW.workspace_id = {int(workspace_id)} AND NEW.score_state = 0 THEN
                        RAISE EXCEPTION 'poisoned row';
                    END IF;
                    RETURN NEW;
                END; $$ LANGUAGE plpgsql
                """
            )
            cursor.execute(
                "CREATE TRIGGER test_poison BEFORE UPDATE ON roadmap_feature "
                "FOR EACH ROW EXECUTE FUNCTION test_poison()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER test_poison BEFORE UPDATE ON roadmap_feature "
                f"WHEN NEW.workspace_id = {int(workspace_id)} AND NEW.score_state = 0 "
                "BEGIN SELECT RAISE(ABORT, 'poisoned row'); END"
            )


def cure() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TRIGGER test_poison" + (" ON roadmap_feature" if connection.vendor == "postgresql" else "")
        )
