"""rivers planner service: plans runs and backfills from definitions snapshots."""
