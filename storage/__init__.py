"""Persistence: engine, session factory, models, repositories, migrations.

This package imports nothing from the rest of the project.
"""
