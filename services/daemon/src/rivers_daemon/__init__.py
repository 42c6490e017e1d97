"""rivers per-location daemon: schedules, sensors, automation, run queue, backfills."""
