"""OpenAssistant (`OpenAssistant/oasst1`, `oasst2`): message trees.

Two layouts: the flat message table (one message per row: `message_id`, `parent_id`, `message_tree_id`,
`role: prompter|assistant`, `text`, `rank`, `lang`), grouped here by tree; and the nested tree export
(`{message_tree_id, prompt: {..., replies: [...]}}`). Every root-to-leaf path becomes a conversation,
with the message ids and ranks of the path kept in `extra`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

from sharelm.io import RowError
from sharelm.languages import language_from_code
from sharelm.schema import Conversation
from sharelm.sources.base import ImportReport, Row, Source, error_reason

SOURCE_NAME = "oasst"
ROLES = {"prompter": "user", "assistant": "assistant"}


def path_to_conversation(path: list[Row], tree_id: str) -> Conversation:
    for m in path:
        if m.get("role") not in ROLES:
            raise ValueError(f"message {m.get('message_id')}: role must be prompter or assistant")
    root = path[0]
    return Conversation.model_validate(
        {
            "conversation_id": f"oasst-{path[-1]['message_id']}",
            "conversation": [{"role": ROLES[m["role"]], "content": m["text"]} for m in path],
            "user_id": root.get("user_id"),
            "timestamp": root.get("created_date"),
            "source": SOURCE_NAME,
            "conversation_metadata": {
                "language": language_from_code(root.get("lang")),
                "extra": {
                    "message_tree_id": tree_id,
                    "message_ids": [m["message_id"] for m in path],
                    "ranks": [m.get("rank") for m in path],
                },
            },
        }
    )


def leaf_paths(root: Row, children: dict[str, list[Row]]) -> Iterator[list[Row]]:
    stack = [[root]]
    while stack:
        path = stack.pop()
        kids = sorted(
            children.get(path[-1]["message_id"], []),
            key=lambda m: (m.get("rank") is None, m.get("rank") or 0),
        )
        if not kids:
            yield path
        stack.extend(path + [k] for k in reversed(kids))


def matches(row: Row) -> bool:
    return ("message_id" in row and "parent_id" in row and "text" in row) or (
        isinstance(row.get("prompt"), dict) and "replies" in row["prompt"]
    )


def convert(row: Row) -> list[Conversation]:
    """The nested tree layout (one tree per row)."""
    tree_id = str(row.get("message_tree_id") or row["prompt"]["message_id"])
    children: dict[str, list[Row]] = defaultdict(list)
    stack = [row["prompt"]]
    while stack:
        node = stack.pop()
        for reply in node.get("replies") or []:
            children[node["message_id"]].append(reply)
            stack.append(reply)
    return [path_to_conversation(p, tree_id) for p in leaf_paths(row["prompt"], children)]


def convert_rows(rows: Iterable[tuple[int, Row]], path: str, report: ImportReport) -> Iterator[Conversation]:
    """Flat message rows: collect every tree of the file, then walk each from its root."""
    trees: dict[str, dict[str, tuple[int, Row]]] = defaultdict(dict)
    for lineno, row in rows:
        if isinstance(row.get("prompt"), dict):
            try:
                convs = convert(row)
            except (ValueError, KeyError, TypeError) as exc:
                report.error(RowError(path, lineno, error_reason(exc)))
                continue
            report.conversations += len(convs)
            yield from convs
            continue
        if not row.get("message_id") or not isinstance(row.get("text"), str):
            report.error(RowError(path, lineno, "message_id and text are required"))
            continue
        if row.get("deleted"):
            continue
        trees[str(row.get("message_tree_id") or "")][row["message_id"]] = (lineno, row)
    for tree_id, messages in trees.items():
        children: dict[str, list[Row]] = defaultdict(list)
        roots = []
        for _, m in messages.values():
            if m.get("parent_id") is None:
                roots.append(m)
            elif m["parent_id"] in messages:
                children[m["parent_id"]].append(m)
        if not roots:
            first_line = min(line for line, _ in messages.values())
            report.error(RowError(path, first_line, f"message tree {tree_id} has no root message"))
            continue
        for root in roots:
            for p in leaf_paths(root, children):
                try:
                    conv = path_to_conversation(p, tree_id or root["message_id"])
                except (ValueError, KeyError, TypeError) as exc:
                    report.error(RowError(path, messages[p[-1]["message_id"]][0], error_reason(exc)))
                    continue
                report.conversations += 1
                yield conv


SOURCE = Source(SOURCE_NAME, matches, convert, "OpenAssistant message trees", convert_rows=convert_rows)
