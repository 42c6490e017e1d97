"""``@rs.Asset``: its forms, keys, metadata, validation and what it reads from the signature."""

from __future__ import annotations

import asyncio
import datetime as dt
import math

import pytest
from pydantic import BaseModel
from pydantic_settings import BaseSettings

import rivers as rs
from rivers.definitions.asset_def import AssetDef


class Threshold(BaseModel):
    min_value: float = 0.0


class EnvSettings(BaseSettings):
    region: str = "eu"


# --- forms, keys, description ---------------------------------------------------------------


def test_bare_form_returns_a_frozen_asset_keyed_by_the_function_name():
    """@rs.Asset without arguments builds an Asset keyed by the function name in group default."""

    @rs.Asset
    def orders() -> list[int]:
        return [1, 2]

    assert isinstance(orders, rs.Asset)
    assert orders.key == "orders"
    assert orders.name == "orders"
    assert orders.kind == "asset"
    assert orders.group == "default"
    assert orders.metadata == {}
    assert orders.tags == {}
    assert orders.description is None


def test_with_arguments_form_applies_them():
    """@rs.Asset(...) with keyword arguments applies name, group, tags, code_version, retry."""
    policy = rs.RetryPolicy(max_retries=2)

    @rs.Asset(
        name="clean_orders",
        group="sales",
        tags={"team": "data"},
        code_version="v3",
        retry_policy=policy,
        description="explicit",
    )
    def whatever() -> int:
        """Docstring loses to the explicit description."""
        return 1

    assert whatever.key == "clean_orders"
    assert whatever.group == "sales"
    assert whatever.tags == {"team": "data"}
    assert whatever.code_version == "v3"
    assert whatever.retry_policy is policy
    assert whatever.description == "explicit"


def test_empty_parentheses_form_works_like_the_bare_form():
    """@rs.Asset() with no arguments is the same as bare @rs.Asset."""

    @rs.Asset()
    def rows() -> int:
        return 1

    assert rows.key == "rows"


def test_positional_function_with_keyword_arguments_is_a_type_error():
    """rs.Asset(fn, name=...) mixes the two forms and is rejected."""

    def rows() -> int:
        return 1

    with pytest.raises(TypeError, match="keyword"):
        rs.Asset(rows, name="x")  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("prefix", "key"),
    [
        ("shop", "shop/orders"),
        ("shop/raw", "shop/raw/orders"),
        (["shop", "raw"], "shop/raw/orders"),
        (("shop",), "shop/orders"),
        ([], "orders"),
    ],
)
def test_key_prefix_as_string_or_list(prefix, key):
    """key_prefix accepts a 'a/b' string or a list of parts; the name stays the last part."""

    @rs.Asset(key_prefix=prefix)
    def orders() -> int:
        return 1

    assert orders.key == key
    assert orders.name == "orders"


def test_invalid_key_is_a_definition_error_naming_the_key():
    """A key part with characters outside letters/digits/_-. is rejected at decoration time."""
    with pytest.raises(rs.DefinitionError, match="bad prefix/orders"):

        @rs.Asset(key_prefix="bad prefix")
        def orders() -> int:
            return 1


def test_description_defaults_to_the_cleaned_docstring():
    """The function's docstring (dedented) becomes the description."""

    @rs.Asset
    def orders() -> int:
        """Daily orders.

        One row per order.
        """
        return 1

    assert orders.description == "Daily orders.\n\nOne row per order."


# --- metadata -------------------------------------------------------------------------------


def test_plain_metadata_values_are_inferred():
    """Plain metadata values become typed MetadataValues (bool before int, datetime → timestamp)."""
    when = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

    @rs.Asset(
        metadata={
            "rows": 3,
            "ratio": 0.5,
            "owner": "ana",
            "flag": True,
            "schema": {"id": "int"},
            "cols": ["a", "b"],
            "at": when,
            "link": rs.MetadataValue.url("https://example.com"),
        }
    )
    def table() -> int:
        return 1

    md = table.metadata
    assert md["rows"] == rs.MetadataValue.int(3)
    assert md["ratio"] == rs.MetadataValue.float(0.5)
    assert md["owner"] == rs.MetadataValue.text("ana")
    assert md["flag"] == rs.MetadataValue(kind="bool", value=True)
    assert md["schema"] == rs.MetadataValue.json({"id": "int"})
    assert md["cols"].kind == "json"
    assert md["at"] == rs.MetadataValue.timestamp(when)
    assert md["link"].kind == "url"


@pytest.mark.parametrize(
    ("value", "kind", "stored"),
    [
        (rs.MetadataValue.int(7), "int", 7),
        (rs.MetadataValue.float(1), "float", 1.0),
        (rs.MetadataValue.text("hi"), "text", "hi"),
        (rs.MetadataValue.json({"a": [1, 2]}), "json", {"a": [1, 2]}),
        (rs.MetadataValue.url("https://x.io"), "url", "https://x.io"),
        (rs.MetadataValue.path("/data/x.parquet"), "path", "/data/x.parquet"),
        (rs.MetadataValue.md("# Title"), "md", "# Title"),
        (rs.MetadataValue.bool(False), "bool", False),
        (rs.MetadataValue.timestamp(1704067200), "timestamp", 1704067200.0),
    ],
)
def test_metadata_factories_build_each_kind(value, kind, stored):
    """Each of the nine MetadataValue factories records its kind and the converted value."""
    assert value.kind == kind
    assert value.value == stored
    assert type(value.value) is type(stored)


def test_timestamp_from_datetime_is_posix_seconds_naive_taken_as_utc():
    """MetadataValue.timestamp(datetime) stores POSIX seconds; a naive datetime counts as UTC."""
    aware = dt.datetime(2024, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert rs.MetadataValue.timestamp(dt.datetime(2024, 1, 1)).value == 1704067200.0
    assert rs.MetadataValue.timestamp(aware).value == 1704067200.0


@pytest.mark.parametrize("bad", [{1, 2}, {"when": dt.date(2024, 1, 1)}, object()])
def test_json_metadata_rejects_non_serialisable_values(bad):
    """MetadataValue.json() checks serialisability when called, not when stored."""
    with pytest.raises(TypeError):
        rs.MetadataValue.json(bad)


def test_json_metadata_rejects_nan():
    """NaN is not JSON, so MetadataValue.json() rejects it instead of storing null later."""
    with pytest.raises(ValueError, match="JSON"):
        rs.MetadataValue.json({"mean": math.nan})


def test_non_serialisable_asset_metadata_is_a_definition_error_naming_the_asset():
    """A metadata value that is neither typed nor JSON-serialisable fails decoration."""
    with pytest.raises(rs.DefinitionError, match=r"asset 'table'.*metadata 'handle'.*not JSON"):

        @rs.Asset(metadata={"handle": object()})
        def table() -> int:
            return 1


# --- tags, group, executor ------------------------------------------------------------------


@pytest.mark.parametrize("tags", [{"team": 1}, {2: "x"}])
def test_non_string_tags_are_a_definition_error(tags):
    """Tags must map strings to strings; the error names the asset."""
    with pytest.raises(rs.DefinitionError, match="asset 'table': tags"):

        @rs.Asset(tags=tags)
        def table() -> int:
            return 1


@pytest.mark.parametrize("group", ["has space", "a/b", "", 5])
def test_invalid_group_is_a_definition_error(group):
    """Groups are letters, digits, '_' or '-'; anything else names the asset."""
    with pytest.raises(rs.DefinitionError, match="asset 'table': group"):

        @rs.Asset(group=group)
        def table() -> int:
            return 1


def test_unknown_executor_override_is_a_definition_error():
    """metadata={'rivers/executor': ...} must name a known executor."""
    with pytest.raises(rs.DefinitionError, match=r"asset 'table'.*rivers/executor.*'warp'"):

        @rs.Asset(metadata={"rivers/executor": "warp"})
        def table() -> int:
            return 1


def test_in_process_executor_override_is_accepted():
    """metadata={'rivers/executor': 'in_process'} is kept and exposed as executor_override."""

    @rs.Asset(metadata={"rivers/executor": "in_process"})
    def needs_in_process() -> int:
        return 42

    assert needs_in_process.executor_override == "in_process"
    assert needs_in_process() == 42


def test_retry_policy_must_be_a_retry_policy():
    """retry_policy= takes an rs.RetryPolicy; a number is a definition error."""
    with pytest.raises(rs.DefinitionError, match="asset 'table': retry_policy"):

        @rs.Asset(retry_policy=3)  # type: ignore[arg-type]
        def table() -> int:
            return 1


def test_io_handler_must_be_an_io_handler():
    """io_handler= takes an rs.IOHandler instance; anything else names the asset."""
    with pytest.raises(rs.DefinitionError, match="asset 'table': io_handler"):

        @rs.Asset(io_handler="memory")  # type: ignore[arg-type]
        def table() -> int:
            return 1


# --- frozen, callable, external -------------------------------------------------------------


def test_asset_is_frozen():
    """Setting or deleting any attribute of an asset raises."""

    @rs.Asset
    def table() -> int:
        return 1

    with pytest.raises(AttributeError, match="frozen"):
        table.group = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="frozen"):
        del table.group
    with pytest.raises(AttributeError, match="frozen"):
        table.new_attribute = 1  # type: ignore[attr-defined]
    assert table.group == "default"


def test_calling_the_asset_calls_the_function():
    """The decorated object stays callable with the function's own arguments."""

    @rs.Asset
    def doubled(numbers: list[int], factor: int = 2) -> list[int]:
        return [n * factor for n in numbers]

    assert doubled([1, 2]) == [2, 4]
    assert doubled(numbers=[3], factor=3) == [9]


def test_external_asset_has_no_function_and_cannot_be_called():
    """rs.Asset.external builds a key-only asset of kind 'external' that cannot be called."""
    raw = rs.Asset.external(
        "events", key_prefix=["lake"], group="raw", description="landed by Kafka"
    )
    assert raw.key == "lake/events"
    assert raw.kind == "external"
    assert raw.fn is None
    assert raw.group == "raw"
    assert raw.description == "landed by Kafka"
    assert raw.spec.inputs == ()
    with pytest.raises(TypeError, match="external asset 'lake/events'"):
        raw()


def test_external_asset_validates_like_any_asset():
    """Asset.external rejects invalid keys and groups with a DefinitionError."""
    with pytest.raises(rs.DefinitionError):
        rs.Asset.external("bad key")
    with pytest.raises(rs.DefinitionError, match="asset 'events': group"):
        rs.Asset.external("events", group="a b")


# --- signature analysis ---------------------------------------------------------------------


def test_async_function_is_detected_at_decoration_time():
    """An async def asset has spec.is_async; calling it returns a coroutine."""

    @rs.Asset
    async def prices() -> dict[str, int]:
        return {"a": 1}

    @rs.Asset
    def report(prices: dict[str, int]) -> int:
        return len(prices)

    assert prices.spec.is_async
    assert not report.spec.is_async
    assert asyncio.run(prices()) == {"a": 1}


def test_parameters_are_name_matched_inputs():
    """Ordinary parameters become undeclared inputs referencing assets by name."""

    @rs.Asset
    def report(prices, inventory, limit: int = 3):
        return 1

    inputs = {i.arg_name: i for i in report.spec.inputs}
    assert list(inputs) == ["prices", "inventory", "limit"]
    assert inputs["prices"].ref == "prices"
    assert not inputs["prices"].declared
    assert inputs["prices"].has_own_param
    assert not inputs["prices"].optional
    assert inputs["limit"].optional


def test_context_with_base_model_config_is_detected():
    """A parameter annotated AssetExecutionContext[Model] is the context; Model the config type."""

    @rs.Asset
    def filtered(context: rs.AssetExecutionContext[Threshold], rows: list[int]):
        return rows

    assert filtered.spec.context_param == "context"
    assert filtered.spec.config_type is Threshold
    assert [i.arg_name for i in filtered.spec.inputs] == ["rows"]


def test_context_with_base_settings_config_is_detected():
    """A pydantic_settings BaseSettings subclass is accepted as the config type."""

    @rs.Asset
    def regional(ctx: rs.AssetExecutionContext[EnvSettings]):
        return ctx.config.region

    assert regional.spec.context_param == "ctx"
    assert regional.spec.config_type is EnvSettings
    assert regional.spec.inputs == ()


def test_config_class_local_to_a_function_is_resolved():
    """With postponed annotations a config class defined in the decorating function is found."""

    class LocalConfig(BaseModel):
        n: int = 1

    @rs.Asset
    def local(context: rs.AssetExecutionContext[LocalConfig]) -> int:
        return context.config.n

    assert local.spec.config_type is LocalConfig


def test_bare_context_annotation_and_unannotated_context_name():
    """rs.AssetExecutionContext without a type, or a bare param named context, has no config."""

    @rs.Asset
    def annotated(c: rs.AssetExecutionContext) -> int:
        return 1

    @rs.Asset
    def by_name(context) -> int:
        return 1

    assert (annotated.spec.context_param, annotated.spec.config_type) == ("c", None)
    assert (by_name.spec.context_param, by_name.spec.config_type) == ("context", None)
    assert annotated.spec.inputs == by_name.spec.inputs == ()


def test_non_pydantic_config_type_is_a_definition_error_naming_the_asset():
    """AssetExecutionContext[int] is rejected: the config type must be a pydantic model."""
    with pytest.raises(rs.DefinitionError, match=r"asset 'filtered'.*BaseModel"):

        @rs.Asset
        def filtered(context: rs.AssetExecutionContext[int]) -> int:
            return 1


def test_two_context_parameters_are_rejected():
    """Only one parameter may receive the context."""
    with pytest.raises(rs.DefinitionError, match=r"asset 'x': two context parameters"):

        @rs.Asset
        def x(context, other: rs.AssetExecutionContext) -> int:
            return 1


def test_unresolvable_annotation_is_a_definition_error():
    """A string annotation naming nothing is reported with the asset, not as a NameError."""
    with pytest.raises(rs.DefinitionError, match="asset 'x': cannot resolve"):

        @rs.Asset
        def x(rows: NoSuchType) -> int:  # type: ignore[name-defined]  # noqa: F821
            return 1


def test_self_dependency_is_detected_with_its_type():
    """A parameter annotated rs.SelfDependency[T] is the self-dependency, not an input."""

    @rs.Asset
    def running_total(self: rs.SelfDependency[int], new_events: list) -> int:
        prev = self.get_inner()
        return (prev or 0) + len(new_events)

    assert running_total.spec.self_param == "self"
    assert running_total.spec.self_type is int
    assert [i.arg_name for i in running_total.spec.inputs] == ["new_events"]


def test_two_self_dependencies_are_rejected():
    """Only one parameter may be the asset's own previous value."""
    with pytest.raises(rs.DefinitionError, match=r"asset 'x': two SelfDependency"):

        @rs.Asset
        def x(a: rs.SelfDependency[int], b: rs.SelfDependency[int]) -> int:
            return 1


def test_kwargs_is_recorded():
    """A **kwargs parameter marks the asset as accepting undeclared-parameter inputs."""

    @rs.Asset
    def merged(**kwargs) -> int:
        return len(kwargs)

    assert merged.spec.accepts_kwargs
    assert merged.spec.inputs == ()


@pytest.mark.parametrize("variant", ["positional_only", "var_positional"])
def test_positional_only_and_var_positional_are_rejected(variant):
    """Inputs are passed by name, so positional-only and *args parameters are errors."""

    def positional_only(a, /) -> int:
        return 1

    def var_positional(*args) -> int:
        return 1

    fn = {"positional_only": positional_only, "var_positional": var_positional}[variant]
    with pytest.raises(rs.DefinitionError, match=rf"asset '{variant}'.*positional-only or \*args"):
        rs.Asset(fn)


# --- declared dependencies ------------------------------------------------------------------


def test_declared_input_without_matching_parameter_or_kwargs_is_rejected():
    """AssetDef.input('src') needs a parameter named src or **kwargs."""
    with pytest.raises(rs.DefinitionError, match=r"asset 'x'.*'src'.*no \*\*kwargs"):

        @rs.Asset(deps=[rs.AssetDef.input("src")])
        def x(other) -> int:
            return 1


def test_declared_input_feeds_a_parameter_of_the_same_name():
    """AssetDef.input('shop/src') binds to the parameter named src, keeping its options."""
    mapping = object()

    @rs.Asset(deps=[rs.AssetDef.input("shop/src", partition_mapping=mapping, metadata={"a": 1})])
    def x(src) -> int:
        return 1

    (spec,) = x.spec.inputs
    assert (spec.arg_name, spec.ref, spec.declared, spec.has_own_param) == (
        "src",
        "shop/src",
        True,
        True,
    )
    assert spec.partition_mapping is mapping
    assert spec.metadata == {"a": rs.MetadataValue.int(1)}


def test_declared_input_can_feed_kwargs():
    """A declared input with no parameter of its own goes to **kwargs."""

    @rs.Asset(deps=[rs.AssetDef.input("n1"), rs.AssetDef.input("n2")])
    def merged(**kwargs) -> int:
        return sum(kwargs.values())

    assert [(i.arg_name, i.has_own_param) for i in merged.spec.inputs] == [
        ("n1", False),
        ("n2", False),
    ]


def test_declared_inputs_feed_kwargs_at_run_time(make_repo):
    """Materializing passes declared inputs without a parameter through **kwargs."""
    parts = []
    for i in range(3):

        @rs.Asset(name=f"part{i}")
        def part(value: int = i) -> int:
            return value

        parts.append(part)

    @rs.Asset(deps=[rs.AssetDef.input(p.key) for p in parts])
    def merged(**kwargs) -> dict[str, int]:
        return dict(kwargs)

    result = make_repo(*parts, merged).materialize()
    assert result.output_for("merged") == {"part0": 0, "part1": 1, "part2": 2}


def test_two_declared_inputs_with_the_same_name_are_rejected():
    """Two declared inputs ending in the same name cannot both bind to one parameter."""
    with pytest.raises(rs.DefinitionError, match="two declared inputs are both named 'orders'"):

        @rs.Asset(deps=[rs.AssetDef.input("a/orders"), rs.AssetDef.input("b/orders")])
        def x(orders) -> int:
            return 1


def test_deps_accept_strings_assets_and_asset_defs():
    """deps= takes key strings, assets, AssetDef.dep/input and output AssetDefs (as deps)."""
    upstream = rs.Asset.external("upstream", key_prefix="lake")

    @rs.Asset(
        deps=[
            "trigger",
            upstream,
            rs.AssetDef.dep("other", metadata={"why": "lineage"}),
            rs.AssetDef("declared"),
            rs.AssetDef.input("src"),
        ]
    )
    def x(src) -> int:
        return 1

    assert [(d.key, d.role) for d in x.spec.deps] == [
        ("trigger", "dep"),
        ("lake/upstream", "dep"),
        ("other", "dep"),
        ("declared", "dep"),
    ]
    assert [i.ref for i in x.spec.inputs] == ["src"]


@pytest.mark.parametrize("bad", [42, None, {"key": "x"}])
def test_bad_deps_entry_is_a_clear_error(bad):
    """A deps entry that is not a key, asset or AssetDef names the asset and the entry."""
    with pytest.raises(rs.DefinitionError, match=r"asset 'x': deps entries must be"):

        @rs.Asset(deps=["ok", bad])
        def x() -> int:
            return 1


def test_deps_given_as_a_single_string_is_rejected():
    """deps='upstream' (not a list) is an error, not a dependency on each of its letters."""
    with pytest.raises(rs.DefinitionError, match=r"asset 'x': deps= takes a list"):

        @rs.Asset(deps="upstream")  # type: ignore[arg-type]
        def x() -> int:
            return 1


def test_deps_given_as_a_single_asset_is_rejected():
    """deps=some_asset (not a list) is a definition error naming the asset."""
    trigger = rs.Asset.external("trigger")
    with pytest.raises(rs.DefinitionError, match=r"asset 'x': deps= takes a list"):

        @rs.Asset(deps=trigger)  # type: ignore[arg-type]
        def x() -> int:
            return 1


def test_asset_def_roles_and_repr():
    """AssetDef() is an output, .input/.dep set their roles; name is the key's last part."""
    assert AssetDef("users").role == "output"
    src = rs.AssetDef.input("shop/src")
    assert (src.role, src.name, repr(src)) == ("input", "src", "AssetDef.input('shop/src')")
    assert rs.AssetDef.dep("t").role == "dep"
    assert AssetDef("users", key_prefix=["a", "b"]).key == "a/b/users"


def test_asset_def_accepts_an_asset_object():
    """AssetDef.input/dep take an asset object as well as a key string."""

    @rs.Asset(key_prefix="raw")
    def events() -> list[int]:
        return []

    assert rs.AssetDef.input(events).key == "raw/events"
    assert rs.AssetDef.dep(events).key == "raw/events"
    with pytest.raises(TypeError, match="asset key string"):
        rs.AssetDef.input(42)


def test_empty_name_is_rejected():
    """@rs.Asset(name='') is a DefinitionError, not a silent fallback to the function name."""
    with pytest.raises(rs.DefinitionError, match="non-empty"):

        @rs.Asset(name="")
        def anything() -> int:
            return 1


@pytest.mark.parametrize(
    ("kind", "value"),
    [("int", "3"), ("int", True), ("int", 2**64), ("float", "x"), ("bool", 1), ("text", 5)],
)
def test_metadata_value_must_match_its_kind(kind, value):
    """A MetadataValue built directly is held to its kind (and ints to 64 bits)."""
    with pytest.raises(ValueError, match="metadata value"):
        rs.MetadataValue(kind=kind, value=value)


def test_json_metadata_is_stored_in_its_json_form():
    """JSON metadata is normalised as JSON would carry it: tuples become lists."""
    assert rs.MetadataValue.json({"a": (1, 2)}).value == {"a": [1, 2]}
