"""The comms consumer of the event table (placeholder)."""


def events_consume() -> int:
    return 0
