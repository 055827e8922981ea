from django.apps import AppConfig


class BoardConfig(AppConfig):
    """The customer-facing public feedback board and public roadmap (opt-in per workspace)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "board"

    def ready(self) -> None:
        # comms may not import the board (it sits above comms): the board vouches for the
        # contacts it verified, a lawful basis for close-the-loop notices.
        from board.selectors import verified_contact_ids
        from comms.loop import verified_contacts_register

        verified_contacts_register(verified_contact_ids)
