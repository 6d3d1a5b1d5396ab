"""Read config text and YAML so that no input can crash or hang the reader.

Input: a path (the config, an explode file, a Graphite lookup file, a
template). Output: its text, or its YAML data plus the line of every mapping
key. Limits: regular files only (a FIFO would block), a maximum size, UTF-8,
a maximum nesting depth and a maximum number of values once aliases are
expanded (a "billion laughs" bomb). A scalar that its tag cannot build
(``!!int 12x``, ``!!bool maybe``, ``2026-02-30``) stays the text it was, as
an ``UnbuiltScalar``, so the key's own check names it with its report and line.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

MAX_FILE_BYTES = 1 << 20  # configs, explode files and lookup files
MAX_DEPTH = 64  # nested mappings and lists, aliases expanded
MAX_VALUES = 100_000  # scalars, mappings and lists, aliases expanded

KeyLines = dict[tuple[str, ...], int]


class SourceError(Exception):
    """A file cannot be read as text or YAML; ``line`` is 1-based, when known."""

    def __init__(self, message: str, line: int | None = None, *, os_error: bool = False):
        super().__init__(message)
        self.message = message
        self.line = line
        self.os_error = os_error  # the file system refused: missing, unreadable...


class UnbuiltScalar(str):
    """A tagged scalar its tag cannot build, such as ``!!int 12x``; its text."""

    reason: str = ""


def read_text(path: Path) -> str:
    """The UTF-8 text of a regular file of at most MAX_FILE_BYTES.

    Raises SourceError with the reason, e.g. "it is not UTF-8 text ...".
    """
    try:
        with open(path, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise SourceError("it is not a regular file")
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise SourceError(str(e.strerror or e), os_error=True) from e
    except ValueError as e:  # a NUL byte in the path
        raise SourceError(str(e), os_error=True) from e
    if len(data) > MAX_FILE_BYTES:
        raise SourceError(f"it is larger than {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        hint = " (it looks like UTF-16)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise SourceError(f"it is not UTF-8 text{hint}: byte 0x{data[e.start]:02x} on line "
                          f"{line} cannot be decoded; save it as UTF-8", line) from e


def _lenient(construct):
    """Wrap a scalar constructor so a value it cannot build stays its text."""

    def build(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
        try:
            return construct(loader, node)
        except (ValueError, KeyError, OverflowError, TypeError) as e:
            text = UnbuiltScalar(node.value)
            text.reason = str(e).strip("'")
            return text

    return build


class _LimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, with depth and alias-expansion limits at compose time."""

    def __init__(self, text: str):
        super().__init__(text)
        self._open_anchors: set[str] = set()
        self._depth = 0
        self._sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth)

    def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) and event.anchor in self._open_anchors:
            raise yaml.composer.ComposerError(
                None, None, f"alias *{event.anchor} refers to a mapping or list that "
                "contains it", event.start_mark)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"mappings and lists nest more than {MAX_DEPTH} levels deep",
                event.start_mark)
        anchor = getattr(event, "anchor", None)
        if anchor and not isinstance(event, yaml.AliasEvent):
            self._open_anchors.add(anchor)
        node = super().compose_node(parent, index)
        self._open_anchors.discard(anchor)
        self._depth -= 1
        self._measure(node, event.start_mark)
        return node

    def _measure(self, node: yaml.Node, mark: yaml.Mark) -> None:
        """Count values and depth as if every alias were expanded; refuse too many."""
        if id(node) in self._sizes:
            return
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        sizes = [self._sizes.get(id(child), (1, 1)) for child in children]
        values = 1 + sum(v for v, _ in sizes)
        depth = 1 + max((d for _, d in sizes), default=0)
        if values > MAX_VALUES:
            raise yaml.composer.ComposerError(
                None, None, f"it expands to more than {MAX_VALUES} values once aliases "
                "are expanded (an alias bomb?)", mark)
        if depth > MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"mappings and lists nest more than {MAX_DEPTH} levels deep "
                "once aliases are expanded", mark)
        self._sizes[id(node)] = (values, depth)


for _tag, _construct in [("bool", yaml.SafeLoader.construct_yaml_bool),
                         ("int", yaml.SafeLoader.construct_yaml_int),
                         ("float", yaml.SafeLoader.construct_yaml_float),
                         ("timestamp", yaml.SafeLoader.construct_yaml_timestamp)]:
    _LimitedLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _lenient(_construct))


def key_lines(root: yaml.Node | None) -> KeyLines:
    """Line numbers (1-based) of every mapping key, by key path; the items of a
    list (alert rules) count as keys "0", "1"..."""
    lines: KeyLines = {}
    stack = [(root, ())] if root is not None else []
    seen: set[tuple[int, tuple[str, ...]]] = set()
    while stack:
        node, path = stack.pop()
        if isinstance(node, yaml.SequenceNode) and (id(node), path) not in seen:
            seen.add((id(node), path))
            for index, item in enumerate(node.value):
                lines.setdefault(path + (str(index),), item.start_mark.line + 1)
                stack.append((item, path + (str(index),)))
            continue
        if not isinstance(node, yaml.MappingNode) or (id(node), path) in seen:
            continue
        seen.add((id(node), path))
        for key_node, value_node in node.value:
            key_path = path + (str(key_node.value),)
            lines.setdefault(key_path, key_node.start_mark.line + 1)
            stack.append((value_node, key_path))
    return lines


def load_yaml(text: str) -> tuple[Any, KeyLines]:
    """The data of one YAML document and its key lines. Raises SourceError."""
    loader = _LimitedLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise SourceError(str(getattr(e, "problem", None) or e),
                          mark.line + 1 if mark else None) from e
    finally:
        loader.dispose()
    return data, key_lines(root)


def yaml_key_lines(text: str) -> KeyLines:
    """Key lines of ``text``; empty if it is not YAML the loader accepts."""
    try:
        return load_yaml(text)[1]
    except SourceError:
        return {}
