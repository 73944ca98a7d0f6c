"""The service's own database: classifications, API keys, idempotency records, the outbox, defect alerts.

SQLite by default, PostgreSQL by URL (``FEEDBACK_DATABASE_URL``); the schema is owned by Alembic.
"""
