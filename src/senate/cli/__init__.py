"""The `senate` command."""
