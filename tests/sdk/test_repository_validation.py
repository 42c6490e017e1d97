"""Repository-time resolution: every definition error is raised when the repository is built."""

from __future__ import annotations

import itertools

import pytest

import rivers as rs


def _leaf(name: str, **kwargs) -> rs.Asset:
    """An asset with no inputs, keyed ``name`` (plus any decorator arguments)."""

    def fn() -> str:
        return name

    return rs.Asset(name=name, **kwargs)(fn)


# --- unknown dependencies -------------------------------------------------------------------


def test_unknown_name_matched_parameter_names_the_asset_and_suggests():
    """A parameter matching no asset is an error naming asset and parameter, with a suggestion."""

    @rs.Asset
    def summary(ordrs) -> int:
        return 1

    with pytest.raises(rs.DefinitionError) as info:
        rs.CodeRepository([_leaf("orders"), summary])
    message = str(info.value)
    assert "asset 'summary'" in message
    assert "parameter 'ordrs' matches no asset" in message
    assert "did you mean 'orders'" in message


def test_unknown_declared_dependency_names_the_asset_and_suggests():
    """deps=['ordrs'] on an unknown key names the asset, the key and a close match."""

    @rs.Asset(deps=["ordrs"])
    def summary() -> int:
        return 1

    with pytest.raises(
        rs.DefinitionError,
        match=r"asset 'summary' depends on 'ordrs', which is not defined.*did you mean 'orders'",
    ):
        rs.CodeRepository([_leaf("orders"), summary])


def test_unknown_declared_input_names_the_asset_and_suggests():
    """AssetDef.input('shop/ordrs') on an unknown key names the asset and suggests the key."""

    @rs.Asset(deps=[rs.AssetDef.input("shop/ordrs")])
    def summary(ordrs) -> int:
        return 1

    with pytest.raises(
        rs.DefinitionError,
        match=r"asset 'summary' depends on 'shop/ordrs'.*did you mean 'shop/orders'",
    ):
        rs.CodeRepository([_leaf("orders", key_prefix="shop"), summary])


def test_unknown_dependency_without_close_match_has_no_suggestion():
    """With nothing similar defined, the message carries no 'did you mean'."""

    @rs.Asset(deps=["zzz"])
    def summary() -> int:
        return 1

    with pytest.raises(rs.DefinitionError) as info:
        rs.CodeRepository([_leaf("orders"), summary])
    assert "asset 'summary' depends on 'zzz'" in str(info.value)
    assert "did you mean" not in str(info.value)


# --- cycles, duplicates, self-dependency ----------------------------------------------------


def test_cycle_is_an_error_showing_the_cycle_path():
    """Assets forming a cycle fail the repository with the path of the cycle."""

    @rs.Asset
    def a(c) -> int:
        return 1

    @rs.Asset
    def b(a) -> int:
        return 1

    @rs.Asset
    def c(b) -> int:
        return 1

    @rs.Asset
    def downstream(c) -> int:
        return 1

    with pytest.raises(rs.DefinitionError, match="cycle") as info:
        rs.CodeRepository([a, b, c, downstream])
    path = str(info.value).split("cycle: ", 1)[1].split(" -> ")
    assert path[0] == path[-1]
    assert sorted(path[:-1]) == ["a", "b", "c"]
    assert "downstream" not in path
    # consecutive entries are real edges: each one is a parent of the next
    edges = {("c", "a"), ("a", "b"), ("b", "c")}
    assert all(pair in edges for pair in itertools.pairwise(path))


def test_cycle_through_declared_deps_is_detected():
    """Ordering-only deps take part in cycle detection too."""
    first = _leaf("first", deps=["second"])
    second = _leaf("second", deps=["first"])
    with pytest.raises(
        rs.DefinitionError, match=r"cycle: (first -> second -> first|second -> first -> second)$"
    ):
        rs.CodeRepository([first, second])


def test_duplicate_keys_name_both_functions():
    """Two different assets with one key fail, naming both defining functions."""

    @rs.Asset(name="orders")
    def orders_from_api() -> int:
        return 1

    @rs.Asset(name="orders")
    def orders_from_db() -> int:
        return 2

    with pytest.raises(rs.DefinitionError, match="duplicate asset key 'orders'") as info:
        rs.CodeRepository([orders_from_api, orders_from_db])
    assert "orders_from_api" in str(info.value)
    assert "orders_from_db" in str(info.value)


def test_the_same_asset_listed_twice_is_not_a_duplicate(make_repo):
    """Listing one asset object twice (e.g. in two lists) is harmless."""
    orders = _leaf("orders")
    repo = make_repo(orders, [orders])
    assert list(repo.assets) == ["orders"]


def test_self_dependency_by_name_suggests_self_dependency():
    """A parameter named after the asset itself is an error pointing to rs.SelfDependency."""

    @rs.Asset
    def running_total(running_total, events) -> int:
        return 1

    with pytest.raises(
        rs.DefinitionError, match=r"asset 'running_total' depends on itself.*SelfDependency"
    ):
        rs.CodeRepository([running_total, _leaf("events")])


def test_self_listed_in_deps_is_an_error():
    """An asset listing its own key in deps= is rejected by name."""
    with pytest.raises(rs.DefinitionError, match="asset 'loop' lists itself in deps="):
        rs.CodeRepository([_leaf("loop", deps=["loop"])])


def test_self_dependency_parameter_creates_no_edge(make_repo):
    """rs.SelfDependency[T] is not an input: no edge, no cycle, recorded in the snapshot."""

    @rs.Asset
    def running_total(self: rs.SelfDependency[int], events: list) -> int:
        return (self.get_inner() or 0) + len(events)

    repo = make_repo(running_total, _leaf("events"))
    snap = repo.snapshot.assets_by_key["running_total"]
    assert snap.has_self_dependency
    assert snap.upstream_keys == ("events",)


# --- parameters and name resolution ---------------------------------------------------------


def test_parameter_matching_no_asset_is_an_error():
    """An undefaulted parameter that names no asset fails and says how to fix it."""

    @rs.Asset
    def summary(limit) -> int:
        return 1

    with pytest.raises(
        rs.DefinitionError, match=r"asset 'summary': parameter 'limit' matches no asset.*default"
    ):
        rs.CodeRepository([summary])


def test_defaulted_parameter_matching_no_asset_keeps_its_default(make_repo):
    """A parameter with a default that names no asset is not an input and keeps its default."""

    @rs.Asset
    def summary(orders: str, limit: int = 7) -> tuple[str, int]:
        return orders, limit

    repo = make_repo(_leaf("orders"), summary)
    assert [i.arg_name for i in repo.resolved_inputs["summary"]] == ["orders"]
    assert repo.snapshot.assets_by_key["summary"].upstream_keys == ("orders",)
    assert repo.materialize().output_for("summary") == ("orders", 7)


def test_defaulted_parameter_matching_an_asset_is_an_input(make_repo):
    """A defaulted parameter that does name an asset is loaded like any input."""

    @rs.Asset
    def summary(orders: str = "none") -> str:
        return orders

    repo = make_repo(_leaf("orders"), summary)
    assert repo.snapshot.assets_by_key["summary"].upstream_keys == ("orders",)
    assert repo.materialize().output_for("summary") == "orders"


def test_ambiguous_name_across_prefixes_is_an_error():
    """A parameter name matching assets under two prefixes lists both keys."""

    @rs.Asset
    def summary(orders) -> int:
        return 1

    shop, web = _leaf("orders", key_prefix="shop"), _leaf("orders", key_prefix="web")
    with pytest.raises(
        rs.DefinitionError,
        match=r"asset 'summary': parameter 'orders' is ambiguous.*'shop/orders', 'web/orders'",
    ):
        rs.CodeRepository([shop, web, summary])


def test_declaring_the_full_key_resolves_an_ambiguous_name(make_repo):
    """AssetDef.input('<full key>') picks one of the ambiguous assets for the parameter."""

    @rs.Asset(deps=[rs.AssetDef.input("web/orders")])
    def summary(orders: str) -> str:
        return orders

    shop, web = _leaf("orders", key_prefix="shop"), _leaf("orders", key_prefix="web")
    repo = make_repo(shop, web, summary)
    assert repo.snapshot.assets_by_key["summary"].upstream_keys == ("web/orders",)


def test_prefix_relative_resolution(make_repo):
    """In key_prefix='shop', parameter orders resolves to shop/orders even if web/orders exists."""

    @rs.Asset(key_prefix="shop")
    def summary(orders: str) -> str:
        return orders

    shop, web = _leaf("orders", key_prefix="shop"), _leaf("orders", key_prefix="web")
    repo = make_repo(shop, web, summary)
    (resolved,) = repo.resolved_inputs["shop/summary"]
    assert (resolved.arg_name, resolved.asset_key) == ("orders", "shop/orders")


def test_own_prefix_wins_over_the_top_level(make_repo):
    """In key_prefix='shop', parameter orders means shop/orders even when orders exists too."""

    @rs.Asset(key_prefix="shop")
    def summary(orders: str) -> str:
        return orders

    repo = make_repo(_leaf("orders"), _leaf("orders", key_prefix="shop"), summary)
    assert repo.snapshot.assets_by_key["shop/summary"].upstream_keys == ("shop/orders",)


def test_unique_name_resolves_across_prefixes(make_repo):
    """A parameter names an asset under any prefix when that name is unique."""

    @rs.Asset
    def summary(orders: str) -> str:
        return orders

    repo = make_repo(_leaf("orders", key_prefix=["shop", "raw"]), summary)
    assert repo.snapshot.assets_by_key["summary"].upstream_keys == ("shop/raw/orders",)


def test_external_asset_can_be_an_input(make_repo):
    """A parameter may name an external asset; it becomes an input edge."""

    @rs.Asset
    def cleaned(events: list) -> int:
        return len(events)

    repo = make_repo(rs.Asset.external("events"), cleaned)
    assert repo.snapshot.assets_by_key["cleaned"].upstream_keys == ("events",)
    assert repo.snapshot.assets_by_key["events"].kind == "external"


# --- repository arguments -------------------------------------------------------------------


def test_plain_function_in_assets_asks_about_the_decorator():
    """A plain function in assets= is rejected with 'did you forget the @rs.Asset decorator'."""

    def orders() -> int:
        return 1

    with pytest.raises(rs.DefinitionError, match=r"did you forget the @rs\.Asset decorator"):
        rs.CodeRepository([_leaf("a"), orders])


def test_nested_asset_lists_are_flattened(make_repo):
    """assets= accepts nested lists and tuples of assets."""
    repo = make_repo(_leaf("a"), [_leaf("b"), (_leaf("c"), [_leaf("d")])], [])
    assert sorted(repo.assets) == ["a", "b", "c", "d"]


def test_non_asset_inside_a_nested_list_is_rejected():
    """Flattening still rejects a non-asset found deep inside nested lists."""
    with pytest.raises(rs.DefinitionError, match="got 'orders'"):
        rs.CodeRepository([_leaf("a"), [[_leaf("b"), "orders"]]])


def test_duplicate_job_names_are_rejected():
    """Two jobs with one name fail the repository, naming the job."""
    with pytest.raises(rs.DefinitionError, match="duplicate job name 'nightly'"):
        rs.CodeRepository([_leaf("a")], jobs=[rs.Job("nightly", ["a"]), rs.Job("nightly", ["a"])])


def test_errors_are_raised_at_definition_time_before_any_run():
    """Building the repository, not materializing, raises; nothing has run."""
    calls = []

    @rs.Asset
    def ok() -> int:
        calls.append("ok")
        return 1

    @rs.Asset
    def broken(missing) -> int:
        return 1

    with pytest.raises(rs.DefinitionError):
        rs.CodeRepository([ok, broken])
    assert calls == []
