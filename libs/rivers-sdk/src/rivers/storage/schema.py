"""The storage schema, versioned.

``SCHEMA_VERSION`` counts migrations; each entry of ``MIGRATIONS`` brings a store from the
previous version to the next. A store written by a newer rivers is refused rather than
misread.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

_V1 = """
DEFINE TABLE IF NOT EXISTS meta SCHEMALESS;

DEFINE TABLE IF NOT EXISTS counter SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS n ON counter TYPE int DEFAULT 0;

DEFINE TABLE IF NOT EXISTS location SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS name ON location TYPE string;
DEFINE FIELD IF NOT EXISTS identity ON location TYPE string;
DEFINE FIELD IF NOT EXISTS created_at ON location TYPE float;
DEFINE INDEX IF NOT EXISTS location_name ON location FIELDS name UNIQUE;

DEFINE TABLE IF NOT EXISTS run SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS run_id ON run TYPE string;
DEFINE FIELD IF NOT EXISTS location_id ON run TYPE string;
DEFINE FIELD IF NOT EXISTS status ON run TYPE string;
DEFINE FIELD IF NOT EXISTS created_at ON run TYPE float;
DEFINE FIELD IF NOT EXISTS start_time ON run TYPE option<float>;
DEFINE FIELD IF NOT EXISTS end_time ON run TYPE option<float>;
DEFINE FIELD IF NOT EXISTS tags ON run TYPE object FLEXIBLE DEFAULT {};
DEFINE FIELD IF NOT EXISTS job_name ON run TYPE option<string>;
DEFINE FIELD IF NOT EXISTS selection ON run TYPE array<string> DEFAULT [];
DEFINE FIELD IF NOT EXISTS asset_keys ON run TYPE array<string> DEFAULT [];
DEFINE FIELD IF NOT EXISTS snapshot_id ON run TYPE option<string>;
DEFINE FIELD IF NOT EXISTS failure_reason ON run TYPE option<string>;
DEFINE INDEX IF NOT EXISTS run_created ON run FIELDS created_at;
DEFINE INDEX IF NOT EXISTS run_location ON run FIELDS location_id, created_at;
DEFINE INDEX IF NOT EXISTS run_status ON run FIELDS status;

DEFINE TABLE IF NOT EXISTS run_event SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS seq ON run_event TYPE int;
DEFINE FIELD IF NOT EXISTS location_id ON run_event TYPE string;
DEFINE FIELD IF NOT EXISTS run_id ON run_event TYPE string;
DEFINE FIELD IF NOT EXISTS kind ON run_event TYPE string;
DEFINE FIELD IF NOT EXISTS timestamp ON run_event TYPE float;
DEFINE FIELD IF NOT EXISTS step_key ON run_event TYPE option<string>;
DEFINE FIELD IF NOT EXISTS asset_key ON run_event TYPE option<string>;
DEFINE FIELD IF NOT EXISTS partition_key ON run_event TYPE option<string>;
DEFINE FIELD IF NOT EXISTS level ON run_event TYPE string;
DEFINE FIELD IF NOT EXISTS message ON run_event TYPE string;
DEFINE FIELD IF NOT EXISTS metadata ON run_event TYPE object FLEXIBLE DEFAULT {};
DEFINE FIELD IF NOT EXISTS data_version ON run_event TYPE option<string>;
DEFINE FIELD IF NOT EXISTS error ON run_event TYPE option<object> FLEXIBLE;
DEFINE FIELD IF NOT EXISTS duration_ms ON run_event TYPE option<float>;
DEFINE FIELD IF NOT EXISTS attempt ON run_event TYPE int DEFAULT 0;
DEFINE INDEX IF NOT EXISTS run_event_seq ON run_event FIELDS seq;
DEFINE INDEX IF NOT EXISTS run_event_run ON run_event FIELDS run_id, seq;
DEFINE INDEX IF NOT EXISTS run_event_asset ON run_event FIELDS location_id, asset_key, kind, seq;

DEFINE TABLE IF NOT EXISTS asset_record SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS location_id ON asset_record TYPE string;
DEFINE FIELD IF NOT EXISTS asset_key ON asset_record TYPE string;
DEFINE FIELD IF NOT EXISTS partition_key ON asset_record TYPE option<string>;
DEFINE FIELD IF NOT EXISTS run_id ON asset_record TYPE string;
DEFINE FIELD IF NOT EXISTS event_seq ON asset_record TYPE int;
DEFINE FIELD IF NOT EXISTS timestamp ON asset_record TYPE float;
DEFINE FIELD IF NOT EXISTS data_version ON asset_record TYPE option<string>;
DEFINE FIELD IF NOT EXISTS metadata ON asset_record TYPE object FLEXIBLE DEFAULT {};
DEFINE INDEX IF NOT EXISTS asset_record_key ON asset_record FIELDS location_id, asset_key;

DEFINE TABLE IF NOT EXISTS kv SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS key ON kv TYPE string;
DEFINE FIELD IF NOT EXISTS data ON kv TYPE any;
DEFINE FIELD IF NOT EXISTS updated_at ON kv TYPE float;
"""

# Version 2: partitions. Dynamic partition keys (ordered by when they were added), the latest
# failure per asset and partition (cleared by a later materialization), and backfills.
_V2 = """
DEFINE TABLE IF NOT EXISTS dynamic_partition SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS name ON dynamic_partition TYPE string;
DEFINE FIELD IF NOT EXISTS key ON dynamic_partition TYPE string;
DEFINE FIELD IF NOT EXISTS seq ON dynamic_partition TYPE int;
DEFINE INDEX IF NOT EXISTS dynamic_partition_name ON dynamic_partition FIELDS name, seq;

DEFINE TABLE IF NOT EXISTS asset_failure SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS location_id ON asset_failure TYPE string;
DEFINE FIELD IF NOT EXISTS asset_key ON asset_failure TYPE string;
DEFINE FIELD IF NOT EXISTS partition_key ON asset_failure TYPE option<string>;
DEFINE FIELD IF NOT EXISTS run_id ON asset_failure TYPE string;
DEFINE FIELD IF NOT EXISTS event_seq ON asset_failure TYPE int;
DEFINE FIELD IF NOT EXISTS timestamp ON asset_failure TYPE float;
DEFINE FIELD IF NOT EXISTS reason ON asset_failure TYPE string;
DEFINE INDEX IF NOT EXISTS asset_failure_key ON asset_failure FIELDS location_id, asset_key;

DEFINE TABLE IF NOT EXISTS backfill SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS backfill_id ON backfill TYPE string;
DEFINE FIELD IF NOT EXISTS location_id ON backfill TYPE string;
DEFINE FIELD IF NOT EXISTS status ON backfill TYPE string;
DEFINE FIELD IF NOT EXISTS created_at ON backfill TYPE float;
DEFINE FIELD IF NOT EXISTS end_time ON backfill TYPE option<float>;
DEFINE FIELD IF NOT EXISTS asset_selection ON backfill TYPE array<string>;
DEFINE FIELD IF NOT EXISTS partitions ON backfill TYPE object FLEXIBLE;
DEFINE FIELD IF NOT EXISTS strategy ON backfill TYPE object FLEXIBLE;
DEFINE FIELD IF NOT EXISTS tags ON backfill TYPE object FLEXIBLE DEFAULT {};
DEFINE FIELD IF NOT EXISTS requested ON backfill TYPE int;
DEFINE FIELD IF NOT EXISTS succeeded ON backfill TYPE int DEFAULT 0;
DEFINE FIELD IF NOT EXISTS failed ON backfill TYPE int DEFAULT 0;
DEFINE FIELD IF NOT EXISTS runs_total ON backfill TYPE int DEFAULT 0;
DEFINE FIELD IF NOT EXISTS runs_done ON backfill TYPE int DEFAULT 0;
DEFINE FIELD IF NOT EXISTS failed_partitions ON backfill TYPE object FLEXIBLE DEFAULT {};
DEFINE FIELD IF NOT EXISTS run_ids ON backfill TYPE array<string> DEFAULT [];
DEFINE FIELD IF NOT EXISTS parent_backfill_id ON backfill TYPE option<string>;
DEFINE INDEX IF NOT EXISTS backfill_created ON backfill FIELDS location_id, created_at;
"""

# Version 3: concurrency pools. One row per pool with its limits (an operator's manual limit
# wins over the code default) and the slots in use, which every claim updates conditionally;
# one holder row per (claim, pool) with a lease; FIFO waiters ordered by a counter sequence.
_V3 = """
DEFINE TABLE IF NOT EXISTS pool SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS name ON pool TYPE string;
DEFINE FIELD IF NOT EXISTS manual_limit ON pool TYPE option<int>;
DEFINE FIELD IF NOT EXISTS code_limit ON pool TYPE option<int>;
DEFINE FIELD IF NOT EXISTS in_use ON pool TYPE int DEFAULT 0;

DEFINE TABLE IF NOT EXISTS pool_holder SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS claim_id ON pool_holder TYPE string;
DEFINE FIELD IF NOT EXISTS pool ON pool_holder TYPE string;
DEFINE FIELD IF NOT EXISTS run_id ON pool_holder TYPE string;
DEFINE FIELD IF NOT EXISTS step_key ON pool_holder TYPE string;
DEFINE FIELD IF NOT EXISTS slots ON pool_holder TYPE int;
DEFINE FIELD IF NOT EXISTS owner ON pool_holder TYPE string;
DEFINE FIELD IF NOT EXISTS claimed_at ON pool_holder TYPE float;
DEFINE FIELD IF NOT EXISTS lease_expires_at ON pool_holder TYPE float;
DEFINE INDEX IF NOT EXISTS pool_holder_pool ON pool_holder FIELDS pool, lease_expires_at;
DEFINE INDEX IF NOT EXISTS pool_holder_claim ON pool_holder FIELDS claim_id;
DEFINE INDEX IF NOT EXISTS pool_holder_owner ON pool_holder FIELDS owner;
DEFINE INDEX IF NOT EXISTS pool_holder_lease ON pool_holder FIELDS lease_expires_at;

DEFINE TABLE IF NOT EXISTS pool_waiter SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS claim_id ON pool_waiter TYPE string;
DEFINE FIELD IF NOT EXISTS seq ON pool_waiter TYPE int;
DEFINE FIELD IF NOT EXISTS pools ON pool_waiter TYPE array<string>;
DEFINE FIELD IF NOT EXISTS slots ON pool_waiter TYPE int;
DEFINE FIELD IF NOT EXISTS run_id ON pool_waiter TYPE string;
DEFINE FIELD IF NOT EXISTS step_key ON pool_waiter TYPE string;
DEFINE FIELD IF NOT EXISTS owner ON pool_waiter TYPE string;
DEFINE FIELD IF NOT EXISTS registered_at ON pool_waiter TYPE float;
DEFINE FIELD IF NOT EXISTS lease_expires_at ON pool_waiter TYPE float;
DEFINE INDEX IF NOT EXISTS pool_waiter_seq ON pool_waiter FIELDS seq;
DEFINE INDEX IF NOT EXISTS pool_waiter_owner ON pool_waiter FIELDS owner;
"""

#: Each migration takes the store from version ``i`` to ``i + 1``.
# Version 4: the service suite. Runs keep their config and partitions (queued runs are
# executed later, elsewhere) and a heartbeat of the worker executing them; code locations
# record where they serve and which snapshot; snapshots are stored for the planner and UI.
_V4 = """
DEFINE FIELD IF NOT EXISTS config ON run TYPE option<object> FLEXIBLE;
DEFINE FIELD IF NOT EXISTS partitions ON run TYPE option<object> FLEXIBLE;
DEFINE FIELD IF NOT EXISTS heartbeat_at ON run TYPE option<float>;
DEFINE FIELD IF NOT EXISTS worker ON run TYPE option<string>;

DEFINE FIELD IF NOT EXISTS endpoint ON location TYPE option<string>;
DEFINE FIELD IF NOT EXISTS last_heartbeat ON location TYPE option<float>;
DEFINE FIELD IF NOT EXISTS snapshot_id ON location TYPE option<string>;
DEFINE FIELD IF NOT EXISTS server_id ON location TYPE option<string>;

DEFINE TABLE IF NOT EXISTS snapshot SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS location_id ON snapshot TYPE string;
DEFINE FIELD IF NOT EXISTS data ON snapshot TYPE bytes;
DEFINE FIELD IF NOT EXISTS created_at ON snapshot TYPE float;
"""

# Version 5: backfills launched through the API keep their run config for the worker.
_V5 = """
DEFINE FIELD IF NOT EXISTS config ON backfill TYPE option<object> FLEXIBLE;
"""

# Version 6: the per-location daemon. Runs get an idempotency key (unique per location; runs
# without one are not indexed by it) and a queue priority. queue_order (= -priority, computed
# by the engine) lets one ascending index (location, status, order, age) give the claim order
# without sorting the queue, and find a location's runs of one status. In-progress runs are
# counted by status, a backfill's runs found by tag. Ticks record every evaluation of a
# schedule, sensor or automation; instigator rows keep their on/off state and cursor;
# `run_queue:config` holds the global limits and `run_queue:lock` is the row every claim
# writes, so claims are serialised. Automation reads asset records by seq.
_V6 = """
DEFINE FIELD IF NOT EXISTS run_key ON run TYPE option<string>;
DEFINE FIELD IF NOT EXISTS priority ON run TYPE int DEFAULT 0;
DEFINE FIELD IF NOT EXISTS queue_order ON run TYPE int VALUE 0 - (priority ?? 0);
UPDATE run SET priority = priority ?? 0 RETURN NONE;
DEFINE INDEX IF NOT EXISTS run_key ON run FIELDS location_id, run_key UNIQUE;
DEFINE INDEX IF NOT EXISTS run_queue_order ON run FIELDS location_id, status, queue_order,
    created_at;
DEFINE INDEX IF NOT EXISTS run_backfill ON run FIELDS tags['rivers/backfill'];

DEFINE INDEX IF NOT EXISTS asset_record_seq ON asset_record FIELDS location_id, event_seq;

DEFINE TABLE IF NOT EXISTS tick SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS tick_id ON tick TYPE string;
DEFINE FIELD IF NOT EXISTS location_id ON tick TYPE string;
DEFINE FIELD IF NOT EXISTS instigator ON tick TYPE string;
DEFINE FIELD IF NOT EXISTS type ON tick TYPE string;
DEFINE FIELD IF NOT EXISTS status ON tick TYPE string;
DEFINE FIELD IF NOT EXISTS timestamp ON tick TYPE float;
DEFINE FIELD IF NOT EXISTS scheduled_time ON tick TYPE option<float>;
DEFINE FIELD IF NOT EXISTS run_ids ON tick TYPE array<string> DEFAULT [];
DEFINE FIELD IF NOT EXISTS backfill_ids ON tick TYPE array<string> DEFAULT [];
DEFINE FIELD IF NOT EXISTS run_keys ON tick TYPE array<string> DEFAULT [];
DEFINE FIELD IF NOT EXISTS skip_reason ON tick TYPE option<string>;
DEFINE FIELD IF NOT EXISTS error ON tick TYPE option<object> FLEXIBLE;
DEFINE FIELD IF NOT EXISTS cursor ON tick TYPE option<string>;
DEFINE FIELD IF NOT EXISTS duration_ms ON tick TYPE float DEFAULT 0.0;
DEFINE FIELD IF NOT EXISTS requested ON tick TYPE int DEFAULT 0;
DEFINE INDEX IF NOT EXISTS tick_instigator ON tick FIELDS location_id, instigator, timestamp;
DEFINE INDEX IF NOT EXISTS tick_location ON tick FIELDS location_id, timestamp;
DEFINE INDEX IF NOT EXISTS tick_timestamp ON tick FIELDS timestamp;

DEFINE TABLE IF NOT EXISTS instigator SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS location_id ON instigator TYPE string;
DEFINE FIELD IF NOT EXISTS name ON instigator TYPE string;
DEFINE FIELD IF NOT EXISTS type ON instigator TYPE string;
DEFINE FIELD IF NOT EXISTS status ON instigator TYPE option<string>;
DEFINE FIELD IF NOT EXISTS cursor ON instigator TYPE option<string>;
DEFINE FIELD IF NOT EXISTS last_tick_time ON instigator TYPE option<float>;
DEFINE FIELD IF NOT EXISTS last_tick_status ON instigator TYPE option<string>;
DEFINE FIELD IF NOT EXISTS updated_at ON instigator TYPE float;
DEFINE INDEX IF NOT EXISTS instigator_location ON instigator FIELDS location_id, name;

DEFINE TABLE IF NOT EXISTS run_queue SCHEMALESS;
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5, _V6)
SCHEMA_VERSION = len(MIGRATIONS)
