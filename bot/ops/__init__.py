"""Operator commands (`flask --app app ...`), data export and reference data."""
