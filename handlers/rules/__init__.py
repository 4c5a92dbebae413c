"""The seeds' state rules as plain functions: no HTTP, no framework, no storage."""
