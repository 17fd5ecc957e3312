"""The aftersales domain (see docs/architecture.md); filled in by its own issue."""
