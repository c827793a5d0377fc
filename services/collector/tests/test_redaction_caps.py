"""Redaction never produces a row the schema rejects: every redaction rule `sharelm.redact` has (enumerated
at run time, so rules added later are covered too) against every cap that redaction can push a text over
(a message's length, in each field the collector redacts: its own messages and the plugin's user and bot
messages), on SQLite and PostgreSQL. Whatever the upload's answer, every route that reads the conversation
back answers 200 and every exported row validates with the server's caps."""

from __future__ import annotations

import itertools

import pytest

from sharelm import Conversation
from sharelm.redact import default_rules, redact_text
from sharelm_collector.devtools.samples import conversation, plugin_upload

CAP = 20000  # SHARELM_MAX_CONTENT_CHARS in the servers' environment (conftest.SERVER_ENV)

# Texts each rule type redacts, for rules files whose rules carry no `example` of their own; the short ones
# are there because a placeholder longer than what it replaces is what pushes a capped message over its cap.
FALLBACK_SAMPLES = {
    "private_key": ["-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1c2b\n-----END RSA PRIVATE KEY-----"],
    "bearer_token": ["Authorization: Bearer abc123def456ghi789jkl"],
    "api_key": ["my key is sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t", "AKIAIOSFODNN7EXAMPLE"],
    "url_query": ["see https://x.io/?a=1", "see https://example.com/a/b?user=joe&sid=42"],
    "email": ["a@b.co", "mail jane.doe@example.com"],
    "iban": ["pay to DE89 3704 0044 0532 0130 00"],
    "credit_card": ["card 4111 1111 1111 1111", "4111111111111111"],
    "mac_address": ["nic 00:1A:2B:3C:4D:5E"],
    "ipv6": ["host 2001:db8::8a2e:370:7334", "host 2001:db8:85a3::8a2e:370:7334"],
    "ipv4": ["ip 1.2.3.4", "server 192.168.10.254"],
    "phone": ["call +14155550134", "call +1 415 555 0134"],
}


def _growth(text: str) -> int:
    return len(redact_text(text)[0]) - len(text)


def _redacts(kind: str, text: str) -> bool:
    return bool(text) and bool(redact_text(text)[1].get(kind))


def rule_samples() -> list[pytest.param]:
    """(rule type, placeholder, texts redacted as that type) for each rule, in the rules file's order: the
    rule's own example (when it is redacted), and, of the other examples of its type and the samples above,
    the one redaction lengthens most (what a redaction adds depends on the type's placeholder)."""
    rules = default_rules()
    by_type: dict[str, list[str]] = {}
    for rule in rules:
        by_type.setdefault(rule.type, []).append(getattr(rule, "example", ""))
    params = []
    for i, rule in enumerate(rules):
        own = getattr(rule, "example", "")
        pool = (*by_type[rule.type], *FALLBACK_SAMPLES.get(rule.type, []))
        others = [c for c in pool if _redacts(rule.type, c)]
        samples = tuple(dict.fromkeys([*([own] if _redacts(rule.type, own) else []),
                                       *([max(others, key=_growth)] if others else [])]))
        params.append(pytest.param(rule.type, rule.placeholder, samples, id=f"{i}-{rule.type}"))
    return params


RULES = rule_samples()
# Where the collector redacts a capped text, and how to put a text there.
FIELDS = {
    "v1-user": lambda text: ("/v1/conversations", {**conversation(), "conversation": [
        {"role": "user", "content": text}, {"role": "assistant", "content": "ok"}]}),
    "v1-assistant": lambda text: ("/v1/conversations", {**conversation(), "conversation": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": text}]}),
    "v1-system": lambda text: ("/v1/conversations", {**conversation(), "conversation": [
        {"role": "system", "content": text}, {"role": "user", "content": "hi"}]}),
    "plugin-user": lambda text: ("/api/endpoint", plugin_upload(user_msgs=[text], bot_msgs=["ok"])),
    "plugin-bot": lambda text: ("/api/endpoint", plugin_upload(user_msgs=["hi"], bot_msgs=[text])),
    # Anonymous (no token): not readable through /v1; its row is checked by the export test below.
    "plugin-anonymous": lambda text: ("/api/endpoint", plugin_upload(user_msgs=[text], bot_msgs=["ok"])),
}


def test_every_rule_has_a_sample_it_redacts():
    """Every rule gets a text redacted as its type (a type without one would go untested: give one of its
    rules an `example` in the rules file, or add a sample above)."""
    assert len(RULES) == len(default_rules()) > 0
    assert any(_growth(s) > 0 for p in RULES for s in p.values[2]), "no sample lengthens its text"
    for param in RULES:
        kind, placeholder, samples = param.values
        assert samples, f"no text is redacted as {kind!r}: no rule of that type has a working example"
        assert all(placeholder in redact_text(s)[0] for s in samples)


def _at_cap(sample: str, where: str) -> str:
    # A space, then tildes: no rule's context changes with them (and no rule spends long on them).
    pad = "~" * (CAP - len(sample) - 1)
    return f"{sample} {pad}" if where == "start" else f"{pad} {sample}"


@pytest.mark.parametrize("field", list(FIELDS))
@pytest.mark.parametrize(("kind", "placeholder", "samples"), RULES)
def test_no_rule_pushes_a_capped_message_out_of_the_schema(api, field, kind, placeholder, samples):
    assert api.caps["max_content_chars"] == CAP
    _, auth = api.contributor()
    for sample, where in itertools.product(samples, ("start", "end")):
        text = _at_cap(sample, where)
        assert len(text) == CAP
        path, body = FIELDS[field](text)
        anonymous = field == "plugin-anonymous"
        r = api.post(path, json=body, headers={} if anonymous else auth)
        grows = len(redact_text(text)[0]) > CAP
        if grows:  # refused, saying why, and nothing stored
            assert r.status_code == 413, r.text
            assert "once redacted" in r.text and "over the cap" in r.text
        else:
            assert r.status_code in (200, 201), r.text
        if anonymous:
            continue
        cid = body["conversation_id"]
        got = api.get(f"/v1/conversations/{cid}", headers=auth)
        assert got.status_code == (404 if grows else 200), got.text
        if not grows:
            stored = Conversation.model_validate(got.json(), context=api.caps)
            assert all(len(m.content) <= CAP for m in stored.conversation)
            assert placeholder in "".join(m.content for m in stored.conversation)
            assert sample not in got.text
            rated = api.patch(f"/v1/conversations/{cid}/rating", json={"rate": "thumbup"}, headers=auth)
            assert rated.status_code == 200, rated.text
        listed = api.get("/v1/conversations", params={"limit": 500}, headers=auth)
        assert listed.status_code == 200, listed.text
        for row in listed.json()["conversations"]:
            Conversation.model_validate(row, context=api.caps)


def test_the_export_holds_only_rows_the_schema_accepts(api):
    """After the cap test's uploads (and everything else this server took), every exported row validates
    with the server's caps."""
    rows = api.export()
    assert rows
    for row in rows:
        Conversation.model_validate(row, context=api.caps)
