"""Demo shop generator: realistic, deterministic shop histories in the interchange format."""
