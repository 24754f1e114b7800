"""Alembic revisions, in order: tables, columns and indexes (functions live in sql/idempotent/)."""
