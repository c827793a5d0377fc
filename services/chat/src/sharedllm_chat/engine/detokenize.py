"""Streaming text out of token ids: incremental decoding and stop sequences that may span tokens."""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase


class IncrementalText:
    """Decodes the ids generated so far and hands out only the text that is final.

    A multi-byte character split across tokens decodes to U+FFFD until its last byte arrives, so text ending
    in U+FFFD is held back. Text that could still become the start of a stop sequence is held back too.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase, stop: tuple[str, ...] = ()) -> None:
        self.tokenizer = tokenizer
        self.stop = stop
        self.ids: list[int] = []
        self.emitted = 0  # characters of the decoded text already handed out
        self.stopped = False

    def add(self, token_id: int) -> str:
        self.ids.append(token_id)
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        for s in self.stop:
            # Search from just before the unsent text: a stop may begin inside what was held back.
            at = text.find(s, max(0, self.emitted - len(s) + 1))
            if at != -1:
                self.stopped = True
                return self._emit(text[:at])
        if text.endswith("\ufffd"):
            return ""
        return self._emit(text[: len(text) - self._held_back(text)])

    def flush(self) -> str:
        """At the end of generation whatever is left is final (a dangling partial character included)."""
        if self.stopped:
            return ""
        return self._emit(self.tokenizer.decode(self.ids, skip_special_tokens=True))

    def _held_back(self, text: str) -> int:
        """Length of the longest suffix of `text` that is a proper prefix of a stop sequence."""
        longest = 0
        for s in self.stop:
            for k in range(min(len(s) - 1, len(text)), longest, -1):
                if text.endswith(s[:k]):
                    longest = k
                    break
        return longest

    def _emit(self, final: str) -> str:
        delta = final[self.emitted :]
        self.emitted = max(self.emitted, len(final))
        return delta
