"""The base: settings, named errors, the database, SQL helpers, Redis scripts, locks, the job queue, phone numbers.

Imports nothing of the bot above it (only `models`)."""
