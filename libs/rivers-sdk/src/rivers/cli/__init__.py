"""The ``rivers`` command."""
