"""The pydantic schema of a graph file (TOML), and its errors in plain words.

The schema checks shape only: which tables and keys exist and what kind of
value each holds. Names, references, types and cycles are checked by the
loader and the lowering, which know the whole graph.
"""

from __future__ import annotations

import keyword
import math
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from violet.dag.builtins import BUILTINS
from violet.dag.types import TRADE_PREFIX, int64_problem
from violet.errors import GraphError, quote, where

# Every name a graph file gives (the graph, inputs, params, consts, state, enums and their values, nodes,
# ports, outputs) must match this whole, so a name can reach generated Python or Verilog, a column or a
# file name only as an identifier: a newline, a quote, a dot or a slash can never be in one.
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
NAME_FIX = "use 1 to 64 letters, digits and _, not starting with a digit"

# names an expression already gives a meaning to
RESERVED = frozenset(BUILTINS) | {"true", "false"}


def _scalar(value: Any) -> Any:
    """A literal value: a bool, a float, or an integer inside int64 (TOML's integers are unbounded)."""
    if isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        if (problem := int64_problem(value)) is not None:
            raise ValueError(problem)
        return value
    raise ValueError(f"must be a number or true/false, got {_kind(value)}")


def _number(value: Any) -> Any:
    """A bound or a typical range: a number, never NaN (a NaN bound would refuse every value)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"must be a number, got {_kind(value)}")
    if isinstance(value, float) and math.isnan(value):
        raise ValueError("must be a number, not nan")
    return _scalar(value)


def _kind(value: Any) -> str:
    """What a TOML value is, for an error: a string is quoted; an array or a table is not printed (it may
    be nested thousands deep, beyond what repr can follow)."""
    if isinstance(value, str):
        return f"the string {quote(value)}"
    return {"dict": "a table", "list": "an array"}.get(type(value).__name__, f"a {type(value).__name__}")


def is_name(text: str) -> bool:
    """True if `text` is a valid graph-file name: an identifier of at most 64 characters, not a keyword."""
    return NAME_RE.fullmatch(text) is not None and not keyword.iskeyword(text)


def check_name(name: str, file: str, key: str) -> None:
    """Refuse a name that is not an identifier, naming it (quoted, cut) and where it is."""
    if not is_name(name):
        raise GraphError(f"{quote(name)} is not a valid name", where=where(file, key), fix=NAME_FIX)


Scalar = Annotated[Any, AfterValidator(_scalar)]
Number = Annotated[Any, AfterValidator(_number)]
Binding = Annotated[Any, AfterValidator(lambda v: v if isinstance(v, str) else _scalar(v))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class GraphMeta(_Strict):
    name: str
    doc: str = ""


class InputModel(_Strict):
    type: Literal["float64", "int64", "bool", "enum"]
    values: list[str] | None = None
    finite: bool = False
    ge: Number | None = None
    gt: Number | None = None
    le: Number | None = None
    lt: Number | None = None
    typical: tuple[Number, Number] | None = None
    vector: bool = False
    universe: bool = False
    mask: str = ""
    doc: str = ""

    @model_validator(mode="after")
    def _enum_values(self) -> InputModel:
        if self.universe and not self.vector:
            raise ValueError("a `universe` input is a vector: add `vector = true`")
        if self.mask and (not self.vector or self.universe):
            raise ValueError("`mask` belongs to a per-scan vector input (`vector = true`, not `universe`)")
        if (self.type == "enum") != (self.values is not None):
            raise ValueError("an enum input needs `values = [...]`, and only an enum input has them")
        if self.values is not None and (not self.values or len(set(self.values)) != len(self.values)):
            raise ValueError("enum `values` must be a non-empty list of distinct names")
        if self.typical is not None:
            self._check_typical(*self.typical)
        return self

    def _check_typical(self, lo: float, hi: float) -> None:
        """`typical = [lo, hi]` guides sampling: finite, ordered, of finite width, and meeting the bounds."""
        check_typical(lo, hi)
        lower = max((b for b in (self.ge, self.gt) if b is not None), default=-math.inf)
        upper = min((b for b in (self.le, self.lt) if b is not None), default=math.inf)
        if hi < lower or lo > upper:
            raise ValueError(f"`typical` [{lo!r}, {hi!r}] lies outside the input's bounds")


def check_typical(lo: float, hi: float) -> None:
    """A typical range is [lo, hi] with finite lo <= hi, of finite width."""
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi and math.isfinite(hi - lo)):
        raise ValueError(f"`typical` must be [lo, hi] with finite lo <= hi, got [{lo!r}, {hi!r}]")


class ParamModel(_Strict):
    default: Scalar
    type: Literal["float64", "int64", "bool"] | None = None
    finite: bool = False
    ge: Number | None = None
    gt: Number | None = None
    le: Number | None = None
    lt: Number | None = None
    doc: str = ""


class StateModel(_Strict):
    init: Scalar | None = None
    enum: str | None = None
    type: Literal["float64", "int64", "bool"] | None = None
    vector: bool = False  # one value per universe asset, each starting at init
    doc: str = ""


class NodeModel(_Strict):
    expr: str | None = None
    node: str | None = None
    graph: str | None = None
    in_: dict[str, Binding] = Field(default_factory=dict, alias="in")
    params: dict[str, Binding] = Field(default_factory=dict)
    typical: tuple[Number, Number] | None = None  # the range its value is expected in: hardware sized to it
    doc: str = ""

    @model_validator(mode="after")
    def _one_kind(self) -> NodeModel:
        kinds = [k for k in ("expr", "node", "graph") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"a node needs exactly one of `expr`, `node`, `graph` (found {kinds or 'none'})")
        if self.expr is not None and self.in_:
            raise ValueError("an `expr` node names its sources inside the expression; remove `in`")
        if self.graph is None and self.params:
            raise ValueError("only a composed `graph` node takes `params`")
        if self.typical is not None:
            if self.graph is not None:
                raise ValueError("a composed `graph` node has no one value: give `typical` to a node inside it")
            check_typical(*self.typical)
        return self


ROLES = ("enter_long", "enter_short", "exit_long", "exit_short")  # what an action value asks the execution layer


class LaneModel(_Strict):
    """One lane of `[record]`: which outputs of a decision graph a host reads (docs/runtime.md, "The record
    contract").

    Every value names an output of the graph (checked by the loader); `actions` maps action enum values to
    roles (values not listed send no order); `asset` is left out by a per-asset lane (its outputs are
    vectors, the asset is the index); `exit_check` names a composed exit graph node, run alone between
    scans for a finer exit cadence; `trades` is the prefix of the lane's trade fields."""

    action: str
    actions: dict[str, Literal["enter_long", "enter_short", "exit_long", "exit_short"]]
    asset: str = ""
    leverage: str
    notional: str
    exit_leverage: str
    exit_notional: str
    trade: str
    exit_check: str = ""
    trades: str = TRADE_PREFIX


MaxPositions = Annotated[int, Field(ge=1, le=1_000_000)] | str | None


class RecordModel(LaneModel):
    """`[record]` with its one lane's keys at the top."""

    max_positions: MaxPositions = None


class LanesModel(_Strict):
    """`[record]` with several lanes, `[record.lanes.<name>]` each, run as one portfolio."""

    lanes: dict[str, LaneModel] = Field(min_length=1)
    max_positions: MaxPositions = None


# the two shapes of `[record]`, told apart by a `lanes` key (tags a pydantic error's location holds, dropped)
RECORD_TAGS = ("one lane", "several lanes")
AnyRecord = Annotated[Annotated[RecordModel, Tag(RECORD_TAGS[0])] | Annotated[LanesModel, Tag(RECORD_TAGS[1])],
                      Discriminator(lambda v: RECORD_TAGS[isinstance(v, dict) and "lanes" in v])]


def record_lanes(model: RecordModel | LanesModel) -> dict[str, LaneModel]:
    """A record's lanes by name: a flat record's one lane is named ""."""
    return model.lanes if isinstance(model, LanesModel) else {"": model}


class GraphFile(_Strict):
    graph: GraphMeta
    record: AnyRecord | None = None
    libraries: dict[str, str] = Field(default_factory=dict)
    inputs: dict[str, InputModel]
    params: dict[str, ParamModel] = Field(default_factory=dict)
    consts: dict[str, Scalar] = Field(default_factory=dict)
    nodes: dict[str, NodeModel] = Field(default_factory=dict)
    outputs: dict[str, str]
    state: dict[str, StateModel] = Field(default_factory=dict)
    next_state: dict[str, str] = Field(default_factory=dict)
    enums: dict[str, list[str]] = Field(default_factory=dict)


def parse_graph_file(data: dict[str, Any], file: str) -> GraphFile:
    """Validate raw TOML data; raise one GraphError listing every problem."""
    data = dict(data)
    for table, key in (("params", "default"), ("state", "init")):
        if isinstance(data.get(table), dict):
            data[table] = {k: v if isinstance(v, dict) else {key: v} for k, v in data[table].items()}
    try:
        model = GraphFile.model_validate(data)
    except ValidationError as exc:
        raise GraphError(_explain(exc), where=file, fix=_SCHEMA_FIX) from None
    _check_names(model, file)
    return model


def _check_identifiers(model: GraphFile, file: str) -> None:
    """Every string of the file that names something is an identifier (see NAME_RE), table by table."""
    check_name(model.graph.name, file, "graph.name")
    for table in ("libraries", "inputs", "params", "consts", "state", "enums", "nodes", "outputs", "next_state"):
        for name in getattr(model, table):
            check_name(name, file, table)
    if model.record is not None:
        _check_record_names(model.record, file)
    for name, spec in model.inputs.items():
        for k, value in enumerate(spec.values or []):
            check_name(value, file, f"inputs.{name}.values[{k}]")
    for name, values in model.enums.items():
        for k, value in enumerate(values):
            check_name(value, file, f"enums.{name}[{k}]")
    for name, node in model.nodes.items():
        for table, ports in (("in", node.in_), ("params", node.params)):
            for port in ports:
                check_name(port, file, f"nodes.{name}.{table}")


_SCHEMA_FIX = "see docs/graph-files.md for the tables and keys a graph file may hold"


def _check_record_names(record: RecordModel | LanesModel, file: str) -> None:
    """Every name `[record]` gives (lanes, outputs, action values, the exit node, a parameter) is an identifier."""
    for lane, m in record_lanes(record).items():
        key = f"record.lanes.{lane}" if lane else "record"
        if lane:
            check_name(lane, file, "record.lanes")
        for name in (m.action, m.asset, m.leverage, m.notional, m.exit_leverage, m.exit_notional, m.trade):
            if name:
                check_name(name, file, key)
        for value in m.actions:
            check_name(value, file, f"{key}.actions")
        for part in m.exit_check.split(".") if m.exit_check else ():  # a node, or a path to a nested one
            check_name(part, file, f"{key}.exit_check")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", m.trades):
            raise GraphError(f"{key}.trades {quote(m.trades)} is not a prefix of output names", where=file,
                             fix=f"e.g. trades = \"{lane or 'long'}_trade_\"")
    if isinstance(record.max_positions, str):
        check_name(record.max_positions, file, "record.max_positions")


def _explain(exc: ValidationError) -> str:
    """Turn pydantic's errors into one line per problem, keyed by TOML path."""
    lines = []
    for err in exc.errors()[:10]:
        key = ".".join("in" if p == "in_" else str(p) if NAME_RE.fullmatch(str(p)) else quote(p)
                       for p in err["loc"] if p not in RECORD_TAGS)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        lines.append(f"{key}: {msg}" if key else msg)
    more = len(exc.errors()) - 10
    return "invalid graph file:\n    " + "\n    ".join(lines) + (f"\n    ... and {more} more" if more > 0 else "")


def _check_names(model: GraphFile, file: str) -> None:
    """Every name is an identifier, not reserved, and used once across tables."""
    _check_identifiers(model, file)
    seen: dict[str, str] = {}
    for table in ("libraries", "inputs", "params", "consts", "state", "enums", "nodes"):
        for name in getattr(model, table):
            key = f"{table}.{name}"
            if name in RESERVED:
                raise GraphError(f"'{name}' is a built-in function name", where=where(file, key),
                                 fix=f"rename it, e.g. '{name}_value'")
            if name in seen:
                raise GraphError(f"duplicate name '{name}': already defined as {seen[name]}",
                                 where=where(file, key), fix="give each library, input, param, const, state field, enum and node its own name")
            seen[name] = key
    for name, values in model.enums.items():
        if not values or len(set(values)) != len(values):
            raise GraphError(f"enum '{name}' needs a non-empty list of distinct names", where=where(file, f"enums.{name}"),
                             fix='write e.g. reason = ["NONE", "TAKE_PROFIT"]')
    for name, st in model.state.items():
        if (st.init is None) == (st.enum is None):
            raise GraphError("a state field needs `init` (a literal) or `enum` (a name of [enums]; starts at its first value)",
                             where=where(file, f"state.{name}"), fix="write e.g. `open = false` or `{ enum = \"side\" }`")
        if st.enum is not None and st.enum not in model.enums:
            raise GraphError(f"unknown enum {quote(st.enum)}", where=where(file, f"state.{name}"), fix="declare it in [enums]")
    fields, nexts = set(model.state), set(model.next_state)
    if fields != nexts:
        missing, extra = sorted(fields - nexts), sorted(nexts - fields)
        what = f"state field '{missing[0]}' has no next_state" if missing else f"'{extra[0]}' is not a state field"
        raise GraphError(what, where=where(file, "next_state"),
                         fix="give each [state] field exactly one `name = \"expression\"` line in [next_state]")
