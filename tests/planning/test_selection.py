"""Selection syntax resolved against a small diamond-plus-chain graph."""

from __future__ import annotations

import pytest

import rivers as rs
from rivers.planning import AssetGraph, resolve_selection
from rivers.planning.selection import normalize_selection
from tests.fixtures.code_locations import diamond_chain

DIAMOND = {"src", "left", "right", "joined"}
ALL = {
    "lake/events",
    "src",
    "left",
    "right",
    "joined",
    "report",
    "export",
    "shop/orders",
    "web/orders",
}


@pytest.fixture(scope="module")
def graph() -> AssetGraph:
    return AssetGraph.of(diamond_chain.repo.snapshot)


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ("joined", {"joined"}),
        ("shop/orders", {"shop/orders"}),
        ("events", {"lake/events"}),
        ("+joined", {"left", "right", "joined"}),
        ("++joined", {"src", "left", "right", "joined"}),
        ("+++joined", {"lake/events", "src", "left", "right", "joined"}),
        ("++export", {"joined", "report", "export"}),
        ("*export", ALL - {"shop/orders", "web/orders"}),
        ("src+", {"src", "left", "right"}),
        ("src++", DIAMOND),
        ("left++", {"left", "joined", "report"}),
        ("src*", DIAMOND | {"report", "export"}),
        ("*", ALL),
    ],
)
def test_each_syntax_form(graph, selection, expected):
    """Keys, unique names, +/++/* upstream and downstream marks and '*' select as documented."""
    assert resolve_selection(graph, selection) == expected


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ("+joined+", {"left", "right", "joined", "report"}),
        ("+joined*", {"left", "right", "joined", "report", "export"}),
        ("*left+", {"lake/events", "src", "left", "joined"}),
        (["left", "right"], {"left", "right"}),
        (["+left", "report+"], {"src", "left", "report", "export"}),
        (["joined", "*"], ALL),
    ],
)
def test_combined_forms(graph, selection, expected):
    """Marks combine on both sides, and list items union."""
    assert resolve_selection(graph, selection) == expected


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ("group:mid", {"left", "right", "joined"}),
        ("group:raw", {"lake/events", "src"}),
        ("group:mid+", {"left", "right", "joined", "report"}),
        ("+group:out", {"joined", "report", "export"}),
        ("group:default", {"shop/orders", "web/orders"}),
    ],
)
def test_groups(graph, selection, expected):
    """group:name selects a group's assets, and marks extend it like a key."""
    assert resolve_selection(graph, selection) == expected


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ("tag:team", {"src", "report"}),
        ("tag:team=data", {"src"}),
        ("tag:team=bi+", {"report", "export"}),
        ("tag:pii", {"left"}),
        ("tag:pii=yes", {"left"}),
    ],
)
def test_tags(graph, selection, expected):
    """tag:k selects by key, tag:k=v by key and value, and marks apply."""
    assert resolve_selection(graph, selection) == expected


def test_unknown_group_lists_the_groups(graph):
    """An unknown group is a SelectionError listing the existing groups."""
    with pytest.raises(rs.SelectionError, match=r"no asset group 'nope'.*'mid'"):
        resolve_selection(graph, "group:nope")


@pytest.mark.parametrize("selection", ["tag:owner", "tag:team=ops"])
def test_unknown_tag_is_an_error(graph, selection):
    """A tag no asset carries is a SelectionError naming the tag."""
    with pytest.raises(rs.SelectionError, match="no asset has tag"):
        resolve_selection(graph, selection)


def test_unknown_key_suggests_close_matches(graph):
    """A misspelt key is a SelectionError with a 'did you mean' suggestion."""
    with pytest.raises(rs.SelectionError, match=r"no asset 'jonied'.*did you mean 'joined'"):
        resolve_selection(graph, "+jonied")


def test_unknown_key_with_nothing_close_has_no_suggestion(graph):
    """A key unlike any other gets no suggestion."""
    with pytest.raises(rs.SelectionError) as info:
        resolve_selection(graph, "zzzzzz")
    assert "did you mean" not in str(info.value)


def test_ambiguous_name_lists_the_keys(graph):
    """A name shared by two prefixes is a SelectionError listing both full keys."""
    with pytest.raises(
        rs.SelectionError, match=r"'orders' is ambiguous.*'shop/orders', 'web/orders'"
    ):
        resolve_selection(graph, "orders")


@pytest.mark.parametrize("item", ["a+b", "+", "**joined", "joined**", "+*joined", "jo*ined"])
def test_malformed_item_is_an_error(graph, item):
    """Items that do not parse are SelectionErrors quoting the item, with examples."""
    with pytest.raises(rs.SelectionError, match="malformed selection"):
        resolve_selection(graph, [item])


@pytest.mark.parametrize(
    ("selection", "message"),
    [([], "the selection is empty"), ([""], "empty item"), ("   ", "empty item")],
)
def test_empty_selection_is_an_error(graph, selection, message):
    """An empty list or a blank item is a SelectionError, never 'everything'."""
    with pytest.raises(rs.SelectionError, match=message):
        resolve_selection(graph, selection)


def test_none_selects_everything(graph):
    """selection=None means every asset, externals included."""
    assert resolve_selection(graph, None) == ALL


def test_asset_objects_are_accepted(graph):
    """Asset objects in the selection list select their keys, mixed freely with strings."""
    selected = resolve_selection(graph, [diamond_chain.orders, diamond_chain.events, "report+"])
    assert selected == {"shop/orders", "lake/events", "report", "export"}


def test_non_asset_objects_are_rejected(graph):
    """Objects without a string key are a SelectionError, not an AttributeError."""
    with pytest.raises(rs.SelectionError, match="cannot select 42"):
        resolve_selection(graph, ["joined", 42])


def test_normalized_selection_is_order_free_and_deduplicated():
    """Normalization sorts, strips and dedupes; None is ('*',); a string is one item."""
    assert normalize_selection(["b", " a ", "b"]) == ("a", "b")
    assert normalize_selection([diamond_chain.src, "src"]) == ("src",)
    assert normalize_selection(None) == ("*",)
    assert normalize_selection("+x") == ("+x",)
