"""Alembic migrations of the collector's schema, shipped inside the package."""
