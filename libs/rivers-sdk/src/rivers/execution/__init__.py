"""Running plans: step context, IO handlers, events, executors."""
