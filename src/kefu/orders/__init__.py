"""The orders domain (see docs/architecture.md); filled in by its own issue."""
