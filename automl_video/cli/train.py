"""CLI for the train stage (placeholder until its issue lands)."""


def register(subparsers) -> None:
    pass
