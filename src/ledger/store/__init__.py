"""The log store backends: SQLite and PostgreSQL."""
