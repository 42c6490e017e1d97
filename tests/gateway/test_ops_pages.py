"""The operations pages and their JSON: backfills, automation, pools and code locations."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import rivers as rs
from rivers.definitions.snapshot import DefinitionsSnapshot, ScheduleSnap, SensorSnap
from rivers.execution.events import ErrorInfo
from rivers.storage import BackfillState, LocationRecord, RunStatus
from rivers.storage.records import InstigatorType, TickRecord, TickStatus
from rivers_ui.web.ops_locations import RELOAD_KEY
from tests.fixtures.code_locations import basic, partitioned, pooled
from tests.gateway.harness import Stack

BACKFILL_TAG = "rivers/backfill"


def _call(url: str, body: Any = None, method: str | None = None) -> tuple[int, str]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - local test URL
        url, data=data, method=method or ("GET" if data is None else "POST")
    )
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode()


def _get(url: str) -> tuple[int, Any]:
    status, text = _call(url)
    return status, json.loads(text)


def _post(url: str, body: Any = None) -> tuple[int, Any]:
    status, text = _call(url, {} if body is None else body, "POST")
    return status, json.loads(text)


def _launch(stack: Stack, keys: list[str]) -> dict[str, Any]:
    status, body = _post(
        stack.http + "/api/backfills",
        {
            "location": "partitioned",
            "selection": ["daily_events"],
            "partitions": {"keys": keys},
            "strategy": rs.BackfillStrategy.single_run().model_dump(mode="json"),
        },
    )
    assert status == 201, body
    return dict(body)


def _automated(name: str = "basic") -> DefinitionsSnapshot:
    return basic.repo.snapshot.model_copy(
        update={
            "location": name,
            "schedules": (ScheduleSnap(name="nightly", cron="0 2 * * *", selection=("numbers",)),),
            "sensors": (
                SensorSnap(
                    name="files",
                    selection=("numbers",),
                    minimum_interval=30.0,
                    description="Looks for new files.",
                ),
            ),
        }
    )


def _publish(stack: Stack, snapshot: DefinitionsSnapshot) -> LocationRecord:
    location = stack.storage.ensure_location(snapshot.location)
    snapshot_id = stack.storage.store_snapshot(location.identity, snapshot)
    stack.storage.heartbeat_location(
        location.identity, endpoint="127.0.0.1:4266", snapshot_id=snapshot_id, server_id="s1"
    )
    return location


# --- backfills ---------------------------------------------------------------------------------


def test_backfill_list_and_detail_show_counts_runs_and_failed_partitions(stack: Stack) -> None:
    """GET /api/backfills(/id) and both pages show progress, counts, runs, failed partitions."""
    location = stack.register(partitioned.repo)
    launched = _launch(stack, ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"])
    backfill_id = launched["backfill_id"]
    run = stack.add_run(
        location,
        status=RunStatus.FAILURE,
        tags={BACKFILL_TAG: backfill_id},
        partitions={"keys": ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]},
    )
    stack.storage.record_backfill_run(
        backfill_id, run_id=run.run_id, succeeded=3, failed_partitions={"2024-01-04": "boom"}
    )

    status, listed = _get(stack.http + "/api/backfills?limit=10")
    assert status == 200
    assert [b["backfill_id"] for b in listed] == [backfill_id]
    assert listed[0]["location"] == "partitioned"
    assert (listed[0]["requested"], listed[0]["succeeded"], listed[0]["failed"]) == (4, 3, 1)
    assert listed[0]["in_progress"] == 0
    assert listed[0]["progress"] == 1.0

    status, detail = _get(f"{stack.http}/api/backfills/{backfill_id}")
    assert status == 200
    assert detail["failed_partitions"] == {"2024-01-04": "boom"}
    assert [(r["run_id"], r["status"]) for r in detail["runs"]] == [(run.run_id, "FAILURE")]
    assert detail["runs"][0]["partitions"] == "4 partitions"

    status, page = _call(stack.http + "/backfills")
    assert status == 200
    assert f'href="/backfills/{backfill_id}"' in page
    assert "3 succeeded" in page and "1 failed" in page
    assert 'data-live-on="run_status changed:backfills"' in page
    status, page = _call(f"{stack.http}/backfills/{backfill_id}")
    assert status == 200
    assert f'href="/runs/{run.run_id}"' in page
    assert "2024-01-04" in page and "boom" in page
    assert f'data-post="/api/backfills/{backfill_id}/cancel"' in page


def test_backfill_page_fragment_follows_the_stored_progress(stack: Stack) -> None:
    """?fragment=detail re-renders only the live block, with the counts as stored now."""
    stack.register(partitioned.repo)
    backfill_id = _launch(stack, ["2024-01-02", "2024-01-03"])["backfill_id"]
    status, before = _call(f"{stack.http}/backfills/{backfill_id}?fragment=detail")
    assert status == 200
    assert "<html" not in before
    assert 'id="count-succeeded">0<' in before
    stack.storage.record_backfill_run(backfill_id, run_id="r1", succeeded=2, failed_partitions={})
    stack.storage.update_backfill(backfill_id, status=BackfillState.COMPLETED, end_time=time.time())
    _, after = _call(f"{stack.http}/backfills/{backfill_id}?fragment=detail")
    assert 'id="count-succeeded">2<' in after
    assert 'data-status="COMPLETED"' in after
    assert "/cancel" not in after  # a finished backfill has nothing to cancel
    _, listed = _call(stack.http + "/backfills?fragment=list")
    assert backfill_id in listed and "completed" in listed


def test_backfill_cancel_and_retry_failed_over_http(stack: Stack) -> None:
    """Cancel stores CANCELED; re-run failed makes a child backfill of the failed partitions."""
    stack.register(partitioned.repo)
    backfill_id = _launch(stack, ["2024-01-02", "2024-01-03", "2024-01-04"])["backfill_id"]
    status, body = _post(f"{stack.http}/api/backfills/{backfill_id}/retry-failed")
    assert status == 409
    assert "has not finished" in body["error"]
    stack.storage.record_backfill_run(
        backfill_id, run_id="r1", succeeded=1, failed_partitions={"2024-01-03": "bang"}
    )
    status, canceled = _post(f"{stack.http}/api/backfills/{backfill_id}/cancel")
    assert status == 200
    assert canceled["status"] == "CANCELED"
    assert stack.storage.get_backfill(backfill_id).status is BackfillState.CANCELED  # type: ignore[union-attr]

    status, child = _post(f"{stack.http}/api/backfills/{backfill_id}/retry-failed")
    assert status == 201
    assert child["parent_backfill_id"] == backfill_id
    assert child["partitions"] == {"keys": ["2024-01-03"]}
    assert child["status"] == "REQUESTED"
    _, page = _call(f"{stack.http}/backfills/{child['backfill_id']}")
    assert f'href="/backfills/{backfill_id}"' in page  # "re-run of" links the parent


def test_backfill_errors(stack: Stack) -> None:
    """Unknown backfills are 404 (JSON, page, cancel, retry); a bad limit is 400."""
    stack.register(partitioned.repo)
    for url, call in (
        ("/api/backfills/nope", _get),
        ("/api/backfills/nope/cancel", _post),
        ("/api/backfills/nope/retry-failed", _post),
    ):
        status, body = call(stack.http + url)
        assert status == 404, url
        assert "no backfill 'nope'" in body["error"]
    status, page = _call(stack.http + "/backfills/nope")
    assert status == 404
    assert "Backfill not found" in page
    for query in ("limit=x", "limit=0", "location=elsewhere"):
        status, body = _get(f"{stack.http}/api/backfills?{query}")
        assert status == (404 if "location" in query else 400), query
        assert body["error"]


# --- automation --------------------------------------------------------------------------------


def test_instigator_start_and_stop_are_stored_and_shown(stack: Stack) -> None:
    """POST start/stop switch the stored status; /automation shows the switch and next tick."""
    _publish(stack, _automated())
    status, page = _call(stack.http + "/automation")
    assert status == 200
    assert 'data-url="/api/instigators/basic/nightly"' in page
    assert "0 of 2 running" in page
    assert "Looks for new files." in page and "numbers" in page

    status, info = _post(stack.http + "/api/instigators/basic/nightly/start")
    assert status == 200
    assert (info["name"], info["running"], info["type"]) == ("nightly", True, "SCHEDULE")
    assert info["next_tick_time"] > time.time()
    _, listed = _get(stack.http + "/api/instigators?location=basic")
    assert {i["name"]: i["running"] for i in listed} == {"nightly": True, "files": False}
    _, fragment = _call(stack.http + "/automation?fragment=instigators")
    assert "1 of 2 running" in fragment
    assert 'data-instigator="nightly" data-running="true"' in fragment

    status, info = _post(stack.http + "/api/instigators/basic/nightly/stop")
    assert (status, info["running"]) == (200, False)
    _, listed = _get(stack.http + "/api/instigators?location=basic")
    assert not any(i["running"] for i in listed)


def test_instigator_errors(stack: Stack) -> None:
    """An unknown location or instigator is 404, on the endpoints and the instigator page."""
    _publish(stack, _automated())
    status, body = _post(stack.http + "/api/instigators/basic/nope/start")
    assert status == 404
    assert "no schedule or sensor named 'nope'" in body["error"]
    status, body = _post(stack.http + "/api/instigators/elsewhere/nightly/stop")
    assert status == 404
    status, page = _call(stack.http + "/automation/basic/nope")
    assert status == 404
    assert "no schedule or sensor named" in page


def test_tick_history_shows_skips_errors_and_launched_runs(stack: Stack) -> None:
    """Ticks appear with skip reasons, expandable tracebacks and links to launched runs."""
    location = _publish(stack, _automated())
    now = time.time()
    ticks = [
        TickRecord(
            tick_id=uuid.uuid4().hex,
            location_id=location.identity,
            instigator="files",
            type=InstigatorType.SENSOR,
            status=TickStatus.SKIPPED,
            timestamp=now - 30,
            skip_reason="no new files in /landing",
        ),
        TickRecord(
            tick_id=uuid.uuid4().hex,
            location_id=location.identity,
            instigator="files",
            type=InstigatorType.SENSOR,
            status=TickStatus.FAILURE,
            timestamp=now - 20,
            error=ErrorInfo(
                error_type="KeyError", message="'bucket'", traceback="Traceback: line 7"
            ),
        ),
        TickRecord(
            tick_id=uuid.uuid4().hex,
            location_id=location.identity,
            instigator="nightly",
            type=InstigatorType.SCHEDULE,
            status=TickStatus.SUCCESS,
            timestamp=now - 10,
            run_ids=("run-from-nightly",),
        ),
    ]
    for tick in ticks:
        stack.storage.add_tick(tick)
    status, fragment = _call(stack.http + "/automation?fragment=ticks")
    assert status == 200
    assert "no new files in /landing" in fragment
    assert "<summary><strong>KeyError</strong>" in fragment
    assert "Traceback: line 7" in fragment
    assert 'href="/runs/run-from-nightly"' in fragment
    # Newest first.
    assert fragment.index("run-from-nightly") < fragment.index("no new files")

    status, page = _call(stack.http + "/automation/basic/files")
    assert status == 200
    assert "no new files in /landing" in page
    assert "run-from-nightly" not in page  # only this sensor's ticks


# --- pools -------------------------------------------------------------------------------------


def test_pool_limits_holders_and_set_limit(stack: Stack) -> None:
    """Code default vs operator override, holders, and POST /api/pools/{name} set and clear."""
    location = stack.register(basic.repo)
    stack.storage.ensure_pool_limits({"warehouse": 2})
    run = stack.add_run(location)
    assert stack.storage.claim_pool_slots(
        "c1",
        ["warehouse"],
        1,
        run_id=run.run_id,
        step_key="order_stats",
        owner="w",
        lease_duration=60,
    )
    _, pools = _get(stack.http + "/api/pools")
    assert [(p["name"], p["limit"], p["source"], p["slots_in_use"]) for p in pools] == [
        ("warehouse", 2, "code", 1)
    ]
    status, one = _get(stack.http + "/api/pools/warehouse")
    assert status == 200
    assert [(h["run_id"], h["step_key"]) for h in one["holders"]] == [(run.run_id, "order_stats")]
    _, page = _call(stack.http + "/pools")
    assert 'data-pool="warehouse" data-limit="2"' in page
    assert f'href="/runs/{run.run_id}"' in page
    assert "(code)" in page

    status, pool = _post(stack.http + "/api/pools/warehouse", {"limit": 3})
    assert status == 200
    assert (pool["limit"], pool["source"], pool["manual_limit"], pool["code_limit"]) == (
        3,
        "manual",
        3,
        2,
    )
    _, fragment = _call(stack.http + "/pools?fragment=pools")
    assert 'data-pool="warehouse" data-limit="3"' in fragment and "(operator)" in fragment
    status, pool = _post(stack.http + "/api/pools/warehouse", {"limit": None})
    assert (status, pool["limit"], pool["source"]) == (200, 2, "code")


def test_pools_the_assets_use_are_listed_before_any_run(stack: Stack) -> None:
    """A pool only named by a published asset is listed (unlimited) with the assets using it."""
    stack.register(pooled.repo)
    status, page = _call(stack.http + "/pools")
    assert status == 200
    assert 'data-pool="warehouse" data-limit=""' in page
    users = [a.key for a in pooled.repo.snapshot.assets if "warehouse" in a.pools]
    assert users
    for key in users:
        assert f'href="/assets/pooled/{key}"' in page
    _, one = _call(stack.http + "/pools/warehouse")
    assert 'data-pool="warehouse"' in one and "all pools" in one


def test_pool_bad_limits_are_400(stack: Stack) -> None:
    """A negative, non-integer, boolean or missing limit is refused and nothing changes."""
    stack.storage.ensure_pool_limits({"warehouse": 2})
    for body in ({"limit": -1}, {"limit": "3"}, {"limit": 2.5}, {"limit": True}, {}):
        status, answer = _post(stack.http + "/api/pools/warehouse", body)
        assert status == 400, body
        assert "limit" in answer["error"]
    status, answer = _call(stack.http + "/api/pools/warehouse", None, "POST")
    assert status == 400
    assert stack.storage.get_pool_info("warehouse").limit == 2


# --- locations ---------------------------------------------------------------------------------


def test_locations_page_and_reload_request(stack: Stack) -> None:
    """/locations shows status, heartbeat, endpoint, asset count; Reload stores a request."""
    location = _publish(stack, _automated())
    status, page = _call(stack.http + "/locations")
    assert status == 200
    assert 'data-location="basic" data-status="available"' in page
    assert "127.0.0.1:4266" in page
    assert f"{len(basic.repo.snapshot.assets)} assets" in page
    assert "reload requested" not in page

    status, body = _post(stack.http + "/api/locations/basic/reload")
    assert status == 202
    assert (body["location"], body["server_id"]) == ("basic", "s1")
    stored = stack.storage.kv_get(RELOAD_KEY.format(identity=location.identity))
    assert stored["server_id"] == "s1"
    _, fragment = _call(stack.http + "/locations?fragment=locations")
    assert "reload requested" in fragment

    # The code server reloads: a new incarnation, and the request is no longer pending.
    stack.storage.heartbeat_location(
        location.identity,
        endpoint="127.0.0.1:4266",
        snapshot_id=stack.storage.get_location(location.identity).snapshot_id,  # type: ignore[union-attr]
        server_id="s2",
    )
    _, fragment = _call(stack.http + "/locations?fragment=locations")
    assert "reload requested" not in fragment

    status, body = _post(stack.http + "/api/locations/elsewhere/reload")
    assert status == 404
    assert "no code location named 'elsewhere'" in body["error"]


def test_unavailable_location_is_shown_unavailable(stack: Stack) -> None:
    """A location whose heartbeat is too old is listed unavailable."""
    stack.stop_gateway()
    stack.start_gateway(location_timeout=0.2)
    _publish(stack, _automated())
    time.sleep(0.4)
    _, page = _call(stack.http + "/locations")
    assert 'data-location="basic" data-status="unavailable"' in page
