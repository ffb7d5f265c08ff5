"""The language model: client, assistant (budget, cache, log, tool loop), prompt, history and tools.

Tools return domain requests (`BookingRequest`, `CancelRequest`); the dialog turns them into its confirm step."""
