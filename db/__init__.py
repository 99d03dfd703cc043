"""Shared persistence: declarative base, engine and sessions, settings, the project error root.

Importing the package itself pulls in nothing, so pure cores may use `db.errors`.
"""
