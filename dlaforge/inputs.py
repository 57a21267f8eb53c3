"""Reading what a user hands dlaforge: one place that turns a file into text, YAML or JSON, or
refuses it with one line (DESIGN.md, "CLI": bad input is a SpecError, never a traceback).

- `read_text`: a file that is missing, a folder, unreadable, larger than MAX_INPUT_BYTES or
  not UTF-8 text is refused, each with its own message.
- `load_yaml`: safe YAML with every mapping key given once (a repeated key is refused, not
  silently last-wins) and at most MAX_YAML_VALUES values once its aliases are expanded (an
  alias bomb is refused before anything walks it).
- `load_json`: strict JSON (no NaN or Infinity) nested at most MAX_JSON_DEPTH deep.

What the text means (an arch, a topology, a record) is checked by its own loader afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from .errors import SpecError, shown

MAX_INPUT_BYTES = 64 * 2**20
MAX_YAML_VALUES = 100_000
MAX_JSON_DEPTH = 64


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text of file `path`, which the messages call `what` (e.g. "arch file")."""
    path = Path(path)
    where = f"{what} {shown(str(path), 120)}"
    try:
        if path.is_dir():
            raise SpecError(f"{where} is a folder, not a file")
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise SpecError(f"{where} is larger than {MAX_INPUT_BYTES >> 20} MiB")
        data = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(f"{where} does not exist") from None
    except OSError as exc:
        raise SpecError(f"cannot read {where}: {exc.strerror or type(exc).__name__}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{where} is not UTF-8 text (byte {exc.start} is not): is it "
                        f"binary?") from None


class _Checks:
    """A SafeLoader's refusal of repeated mapping keys and of documents of more than
    MAX_YAML_VALUES values with their aliases expanded."""

    def construct_document(self, node):
        if _expanded_size(node, {}) > MAX_YAML_VALUES:
            raise SpecError(f"the document expands to more than {MAX_YAML_VALUES:,} values "
                            f"(through YAML aliases?)")
        return super().construct_document(node)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                repeated = key in seen
                seen.add(key)
            except TypeError:
                continue        # an unhashable key: SafeLoader's own error names it below
            if repeated:
                raise SpecError(f"key {shown(key)} is given twice (line "
                                f"{key_node.start_mark.line + 1}); give each key once")
        return super().construct_mapping(node, deep)


class _Loader(_Checks, yaml.SafeLoader):
    """SafeLoader with _Checks."""


# the package's own files (presets) are parsed by libyaml where PyYAML has it: the same
# documents (tests/core check every preset), several times quicker (`dlaforge list archs`
# reads them all); every other file by PyYAML's own parser, whose errors the messages cite
_Shipped = (type("_Shipped", (_Checks, yaml.CSafeLoader), {"__doc__": "CSafeLoader with _Checks."})
            if getattr(yaml, "__with_libyaml__", False) else _Loader)


def _expanded_size(node, sizes: dict) -> int:
    """Values in `node` counting every alias of a node as a copy of it (`sizes` memoizes by
    node, so a shared node is counted once however often it is used)."""
    if id(node) not in sizes:
        children = node.value if isinstance(node.value, list) else []
        flat = [part for child in children
                for part in (child if isinstance(child, tuple) else (child,))]
        sizes[id(node)] = min(MAX_YAML_VALUES + 1,
                              1 + sum(_expanded_size(child, sizes) for child in flat))
    return sizes[id(node)]


def load_yaml(path: Path, what: str, shipped: bool = False):
    """The YAML document in file `path` (see the module doc for what is refused); `shipped`
    for a file of the package (a preset), parsed by libyaml when it is there."""
    text = read_text(path, what)
    where = f"{what} {shown(str(path), 120)}"
    try:
        return yaml.load(text, Loader=_Shipped if shipped else _Loader)
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise SpecError(f"{where} is not valid YAML{at}") from None
    except (ValueError, OverflowError, RecursionError) as exc:
        raise SpecError(f"{where} holds a value YAML cannot read ({type(exc).__name__})") from None


def load_json(path: Path, what: str):
    """The JSON document in file `path`: strict JSON, nested at most MAX_JSON_DEPTH deep."""
    text = read_text(path, what)
    where = f"{what} {shown(str(path), 120)}"

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    too_deep = SpecError(f"{where} is nested more than {MAX_JSON_DEPTH} deep")
    try:
        data = json.loads(text, parse_constant=refuse)
    except RecursionError:
        raise too_deep from None
    except ValueError:
        raise SpecError(f"{where} is not valid JSON") from None
    if _depth(data) > MAX_JSON_DEPTH:
        raise too_deep
    return data


def _depth(value, limit: int = MAX_JSON_DEPTH + 1) -> int:
    """Nesting depth of a JSON value, counted up to `limit` (iteratively, no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack and deepest <= limit:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, depth)
            stack += [(v, depth + 1) for v in (item.values() if isinstance(item, dict) else item)]
    return deepest
