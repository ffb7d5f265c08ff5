"""Events and tickets: queries and the two writes (`service`), how they read (`views`), event files
(`values`, `files`) and the demo data (`demo`)."""
