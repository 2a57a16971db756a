"""CLI for the synth stage (placeholder until its issue lands)."""


def register(subparsers) -> None:
    pass
