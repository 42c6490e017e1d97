"""Execution plans: deterministic, topological, restricted to the selection, cached, deep-safe."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping

import pytest

import rivers as rs
from rivers.definitions.snapshot import AssetSnap, DefinitionsSnapshot, DependencySnap
from rivers.planning import AssetGraph, ExecutionPlan, build_plan
from rivers.planning.plan import clear_plan_cache
from tests.fixtures.code_locations import diamond_chain


@pytest.fixture(autouse=True)
def _cold_caches():
    """Every test plans from cold caches, so no test sees another's cached plans."""
    clear_plan_cache()
    yield
    clear_plan_cache()


def _node(name: str, parents: Iterable[str]) -> rs.Asset:
    """A generated asset receiving its parents through **kwargs (as generated pipelines do)."""

    @rs.Asset(name=name, deps=[rs.AssetDef.input(p) for p in parents])
    def node(**kwargs: int) -> int:
        return sum(kwargs.values()) + 1

    return node


def _repository(graph: Mapping[str, list[str]], order: Iterable[str]) -> rs.CodeRepository:
    """A repository whose assets are defined (decorated and listed) in ``order``."""
    return rs.CodeRepository(name="generated", assets=[_node(n, graph[n]) for n in order])


def _assert_topological(plan: ExecutionPlan, snapshot: DefinitionsSnapshot) -> None:
    position = {step.key: i for i, step in enumerate(plan.steps)}
    planned = set(position)
    for step in plan.steps:
        for up in step.upstream:
            assert position[up] < position[step.key], f"{step.key} planned before {up}"
        parents = set(snapshot.assets_by_key[step.key].upstream_keys)
        assert set(step.upstream) == parents & planned


def _layered(seed: int, layers: int = 6, width: int = 8) -> dict[str, list[str]]:
    rng = random.Random(seed)  # noqa: S311 - seeded graph shapes, not cryptography
    graph: dict[str, list[str]] = {}
    earlier: list[str] = []
    for layer in range(layers):
        names = [f"l{layer}_{i}" for i in range(width)]
        for name in names:
            graph[name] = rng.sample(earlier, k=min(len(earlier), rng.randint(1, 3)))
        earlier.extend(names)
    return graph


# --- determinism and order ------------------------------------------------------------------


def test_plans_are_identical_whatever_the_definition_order():
    """Two fresh repositories defining the same graph in different orders plan identically."""
    graph = _layered(seed=1)
    forward = _repository(graph, list(graph))
    plan_forward = build_plan(forward.snapshot)
    clear_plan_cache()
    shuffled = list(graph)
    random.Random(2).shuffle(shuffled)  # noqa: S311 - a seeded order, not cryptography
    backward = _repository(graph, shuffled)
    plan_backward = build_plan(backward.snapshot)
    assert plan_forward is not plan_backward
    assert backward.snapshot.snapshot_id == forward.snapshot.snapshot_id
    assert plan_backward.steps == plan_forward.steps
    assert plan_backward.asset_keys == plan_forward.asset_keys


@pytest.mark.parametrize("seed", [3, 11, 42])
def test_plan_of_a_random_layered_graph_is_topological(seed):
    """Every step comes after all its upstream steps; upstream equals the asset's parents."""
    repo = _repository(_layered(seed), sorted(_layered(seed), reverse=True))
    plan = build_plan(repo.snapshot)
    assert len(plan.steps) == 48
    _assert_topological(plan, repo.snapshot)
    assert plan.asset_keys == tuple(s.key for s in plan.steps)


def test_plan_fields_come_from_the_snapshot():
    """Steps carry their asset keys, async flag and executor override; the plan its selection."""
    snapshot = diamond_chain.repo.snapshot
    plan = build_plan(snapshot, ["export", "right"])
    assert plan.snapshot_id == snapshot.snapshot_id
    assert plan.selection == ("export", "right")
    steps = {s.key: s for s in plan.steps}
    assert steps["right"].asset_keys == ("right",)
    assert steps["right"].is_async
    assert not steps["export"].is_async
    assert steps["export"].executor == "in_process"
    assert steps["right"].executor is None


# --- selection and externals ----------------------------------------------------------------


def test_only_selected_assets_become_steps_with_upstream_inside_the_plan():
    """Unselected parents are not steps, and upstream lists only steps of this plan."""
    plan = build_plan(diamond_chain.repo.snapshot, "joined+")
    assert [s.key for s in plan.steps] == ["joined", "report"]
    steps = {s.key: s for s in plan.steps}
    assert steps["joined"].upstream == ()
    assert steps["report"].upstream == ("joined",)


def test_upstream_selection_plans_the_whole_diamond_in_order():
    """'++joined' plans both branches before the join, which waits for both (sorted)."""
    plan = build_plan(diamond_chain.repo.snapshot, "++joined")
    keys = [s.key for s in plan.steps]
    assert keys[0] == "src"
    assert keys[-1] == "joined"
    assert set(keys) == {"src", "left", "right", "joined"}
    assert plan.steps[-1].upstream == ("left", "right")
    _assert_topological(plan, diamond_chain.repo.snapshot)


def test_external_assets_are_never_steps():
    """External assets are dropped from plans, even when selected alongside others."""
    snapshot = diamond_chain.repo.snapshot
    everything = build_plan(snapshot)
    assert "lake/events" not in everything.asset_keys
    assert len(everything.steps) == 8
    steps = {s.key: s for s in everything.steps}
    assert steps["src"].upstream == ()
    assert [s.key for s in build_plan(snapshot, "+src").steps] == ["src"]
    _assert_topological(everything, snapshot)


@pytest.mark.parametrize("selection", ["events", ["lake/events"], [diamond_chain.events]])
def test_selecting_only_external_assets_is_a_selection_error(selection):
    """A selection of external assets only plans nothing and says why."""
    with pytest.raises(rs.SelectionError, match="only external assets"):
        build_plan(diamond_chain.repo.snapshot, selection)


def test_bad_selection_is_a_selection_error():
    """build_plan surfaces selection errors (unknown key) unchanged."""
    with pytest.raises(rs.SelectionError, match="did you mean 'report'"):
        build_plan(diamond_chain.repo.snapshot, "reprot")


# --- caching --------------------------------------------------------------------------------


def test_repeated_and_equivalent_selections_return_the_cached_plan():
    """The same selection, reordered, duplicated or given as assets returns the same object."""
    snapshot = diamond_chain.repo.snapshot
    first = build_plan(snapshot, ["report", "+left"])
    assert build_plan(snapshot, ["report", "+left"]) is first
    assert build_plan(snapshot, ["+left", "report", " report "]) is first
    assert build_plan(snapshot, [diamond_chain.report, "+left"]) is first
    assert build_plan(snapshot) is build_plan(snapshot, None)
    assert build_plan(snapshot, "joined") is build_plan(snapshot, ["joined"])


def test_different_selection_gives_a_different_plan():
    """A different selection is a different cache entry with different steps."""
    snapshot = diamond_chain.repo.snapshot
    one = build_plan(snapshot, "report")
    other = build_plan(snapshot, "report+")
    assert one is not other
    assert [s.key for s in one.steps] == ["report"]
    assert [s.key for s in other.steps] == ["report", "export"]


def test_cache_is_keyed_by_snapshot_content():
    """Equal snapshots share plans; clearing the cache rebuilds an equal plan."""
    graph = {"a": [], "b": ["a"]}
    plan = build_plan(_repository(graph, "ab").snapshot)
    assert build_plan(_repository(graph, "ba").snapshot) is plan
    clear_plan_cache()
    rebuilt = build_plan(_repository(graph, "ab").snapshot)
    assert rebuilt is not plan
    assert rebuilt == plan


# --- deep graphs ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deep_chain() -> rs.CodeRepository:
    """5,000 **kwargs assets in one chain, named so key order differs from chain order."""
    assets = [_node(f"n{i}", [f"n{i - 1}"] if i else []) for i in range(5000)]
    return rs.CodeRepository(name="deep", assets=assets)


def test_a_5000_deep_chain_plans_in_chain_order(deep_chain):
    """A 5,000-deep chain plans without RecursionError, in chain order."""
    plan = build_plan(deep_chain.snapshot)
    assert [s.key for s in plan.steps] == [f"n{i}" for i in range(5000)]
    assert plan.steps[0].upstream == ()
    assert all(s.upstream == (f"n{i - 1}",) for i, s in enumerate(plan.steps) if i)


def test_deep_chain_ancestor_and_descendant_selections(deep_chain):
    """'*n4999' walks all 5,000 ancestors and 'n2500*' the 2,500 descendants iteratively."""
    assert len(build_plan(deep_chain.snapshot, "*n4999").steps) == 5000
    tail = build_plan(deep_chain.snapshot, "n2500*")
    assert [s.key for s in tail.steps] == [f"n{i}" for i in range(2500, 5000)]
    assert tail.steps[0].upstream == ()


# --- the asset graph ------------------------------------------------------------------------


def test_graph_walks_respect_depth():
    """upstream()/downstream() include the start keys and stop after depth levels."""
    graph = AssetGraph.of(diamond_chain.repo.snapshot)
    assert graph.upstream({"export"}, 0) == {"export"}
    assert graph.upstream({"export"}, 1) == {"export", "report"}
    assert graph.upstream({"export"}, 3) == {"export", "report", "joined", "left", "right"}
    assert graph.upstream({"export"}) == {
        "export",
        "report",
        "joined",
        "left",
        "right",
        "src",
        "lake/events",
    }
    assert graph.downstream({"src"}, 1) == {"src", "left", "right"}
    assert graph.downstream({"left", "right"}, 2) == {"left", "right", "joined", "report"}
    assert graph.downstream({"export"}) == {"export"}
    assert graph.parents["joined"] == ("left", "right")
    assert graph.children["src"] == ("left", "right")


def test_graph_is_cached_per_snapshot_and_has_a_topological_order():
    """AssetGraph.of returns one graph per snapshot id, ordering parents before children."""
    snapshot = diamond_chain.repo.snapshot
    graph = AssetGraph.of(snapshot)
    assert AssetGraph.of(snapshot) is graph
    assert len(graph) == 9
    assert "shop/orders" in graph
    assert "nope" not in graph
    for key, parents in graph.parents.items():
        assert all(graph.position[p] < graph.position[key] for p in parents)
    assert graph.external == {"lake/events"}
    assert graph.groups["mid"] == ("joined", "left", "right")


def _snapshot(edges: dict[str, list[str]]) -> DefinitionsSnapshot:
    return DefinitionsSnapshot(
        location="direct",
        assets=tuple(
            AssetSnap(
                key=key,
                step_key=key,
                dependencies=tuple(DependencySnap(asset_key=p, role="dep") for p in parents),
            )
            for key, parents in edges.items()
        ),
    )


def test_cycle_in_a_directly_built_snapshot_is_a_definition_error():
    """A snapshot that bypassed the repository still cannot be planned when it has a cycle."""
    snapshot = _snapshot({"a": ["c"], "b": ["a"], "c": ["b"], "d": ["c"], "e": []})
    with pytest.raises(rs.DefinitionError, match="assets form a cycle") as info:
        AssetGraph.of(snapshot)
    path = str(info.value).split("cycle: ")[1].split(" -> ")
    assert path[0] == path[-1]
    assert sorted(path[:-1]) == ["a", "b", "c"]
    with pytest.raises(rs.DefinitionError, match="cycle"):
        build_plan(snapshot, "e")


def test_self_loop_in_a_snapshot_is_a_cycle():
    """An asset depending on itself in a raw snapshot is reported as a one-node cycle."""
    with pytest.raises(rs.DefinitionError, match="cycle: a -> a"):
        AssetGraph.of(_snapshot({"a": ["a"]}))


def test_dependency_missing_from_a_snapshot_is_a_definition_error():
    """A raw snapshot depending on a key it does not contain is rejected by name."""
    with pytest.raises(rs.DefinitionError, match="asset 'b' depends on 'ghost'"):
        AssetGraph.of(_snapshot({"b": ["ghost"]}))


def test_unsorted_snapshot_gives_the_same_order_as_a_sorted_one():
    """Asset order inside a raw snapshot does not change the graph's order."""
    edges = {"c": ["a"], "b": ["a"], "a": []}
    ordered = AssetGraph.of(_snapshot(dict(sorted(edges.items())))).order
    assert AssetGraph.of(_snapshot(edges)).order == ordered == ("a", "b", "c")
