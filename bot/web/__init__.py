"""HTTP entry points: Twilio's webhooks (signature, form parsing, hand-over to intake) and health checks."""
