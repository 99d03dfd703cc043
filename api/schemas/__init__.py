"""Pydantic v2 request/response schemas, one module per resource, separate from ORM models."""
