"""A classification task: its labels, how the LLM is prompted per label, and how data becomes examples.

Built-ins: `topic` (a metadata field such as ChatterBot's topic), `rating` (the conversation's thumbs) and
`hf` (any Hugging Face text-classification dataset, by column names).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # tasks read conversations by attribute; the model-only paths need no pydantic
    from sharelm.schema import Conversation

DEFAULT_TEMPLATE = "{label} :"


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    group: str = ""  # the value a field partition splits on (source, user_id, ...)
    prompt: str = ""  # response mode: the user turn the answer (in `text`) replies to


@dataclass
class Task:
    name: str
    labels: list[str]
    template: str = DEFAULT_TEMPLATE
    # Conversation -> label, or None when the conversation has no label for this task.
    labeler: Callable[[Conversation], str | None] | None = field(default=None, repr=False)

    def prompt(self, label: str) -> str:
        """The label-conditioned prompt the LLM continues to write a sample of `label`."""
        return self.template.format(label=label)

    def label_id(self, label: str) -> int:
        return self.labels.index(label)

    def example(self, conv: Conversation, group_by: str | None = None) -> Example | None:
        """A conversation as (text, label), or None when it carries no usable label."""
        if self.labeler is None:
            raise ValueError(f"task {self.name!r} reads a dataset, not conversations")
        label = self.labeler(conv)
        if label is None or (self.labels and label not in self.labels):
            return None
        text = conversation_text(conv)
        if not text:
            return None
        return Example(text, label, field_value(conv, group_by) if group_by else "")

    def examples(self, convs: Iterable[Conversation], group_by: str | None = None) -> list[Example]:
        out = [ex for conv in convs if (ex := self.example(conv, group_by)) is not None]
        if not self.labels:  # labels not fixed up front: every label the data has, sorted
            self.labels = sorted({ex.label for ex in out})
        return out


def conversation_text(conv: Conversation) -> str:
    """The text a classifier reads: the turns' contents in order, whitespace-normalised."""
    return " ".join(" ".join(m.content.split()) for m in conv.conversation if m.content.strip())


def field_value(conv: Conversation, name: str) -> str:
    """A top-level field (source, user_id, model_name), a metadata field, or an `extra` key, as text."""
    for obj in (conv, conv.conversation_metadata, conv.user_metadata):
        if name in type(obj).model_fields:
            value = getattr(obj, name)
            return "" if value is None else str(value)
    value = conv.conversation_metadata.extra.get(name)
    return "" if value is None else str(value)


def topic_task(
    field_name: str = "topic", labels: Sequence[str] = (), template: str = DEFAULT_TEMPLATE
) -> Task:
    def labeler(conv: Conversation) -> str | None:
        return field_value(conv, field_name) or None

    return Task("topic", list(labels), template, labeler)


def thumbs(conv: Conversation) -> int:
    """The conversation's thumbs (`rate`): 1 up, -1 down, 0 none or unreadable."""
    rate = (conv.conversation_metadata.rate or "").lower()
    if rate in ("thumbup", "thumbs_up", "up", "1", "positive"):
        return 1
    if rate in ("thumbdown", "thumbs_down", "down", "-1", "negative"):
        return -1
    return 0


def rating_label(conv: Conversation) -> str | None:
    """ "positive"/"negative" from the thumbs (`rate`), else the majority of per-message ratings."""
    if t := thumbs(conv):
        return "positive" if t > 0 else "negative"
    votes = Counter(r for r in conv.conversation_metadata.message_ratings if r)
    if votes[1] != votes[-1]:
        return "positive" if votes[1] > votes[-1] else "negative"
    return None


def rating_task(template: str = DEFAULT_TEMPLATE) -> Task:
    return Task("rating", ["negative", "positive"], template, rating_label)


def hf_examples(
    dataset, text_column: str, label_column: str, labels: Sequence[str] = ()
) -> tuple[list[Example], list[str]]:
    """Examples from a `datasets.Dataset` with a text and a label column (ClassLabel names are used)."""
    for col in (text_column, label_column):
        if col not in dataset.column_names:
            raise ValueError(f"dataset has no column {col!r} (columns: {', '.join(dataset.column_names)})")
    feature = dataset.features[label_column]
    names = getattr(feature, "names", None)
    rows = [
        Example(" ".join(str(t).split()), names[y] if names else str(y))
        for t, y in zip(dataset[text_column], dataset[label_column], strict=True)
        if t and y is not None
    ]
    found = list(labels) or (list(names) if names else sorted({ex.label for ex in rows}))
    return [ex for ex in rows if ex.label in found], found


def hf_task(labels: Sequence[str], template: str = DEFAULT_TEMPLATE) -> Task:
    return Task("hf", list(labels), template, None)


def build_task(
    name: str, field_name: str = "topic", labels: Sequence[str] = (), template: str = DEFAULT_TEMPLATE
) -> Task:
    if name == "topic":
        return topic_task(field_name, labels, template)
    if name == "rating":
        return rating_task(template)
    if name == "hf":
        return hf_task(labels, template)
    raise ValueError(f"task must be one of topic, rating, hf; got {name!r}")
