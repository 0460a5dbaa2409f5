"""Jobs, schedules and the one `Definitions` of the code location."""
