"""Storage: engine, sessions, migrations and bulk load; the only code that knows SQL dialects."""
