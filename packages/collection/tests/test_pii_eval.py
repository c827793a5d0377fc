from sharelm_bench.pii_eval import Example, compare, labelled_set, score


def test_labelled_set_has_positives_and_lookalikes():
    examples = labelled_set(per_type=5)
    kinds = {e.kind for e in examples}
    assert {"email", "iban", "credit_card", "url_query"} <= kinds
    assert {"version number", "invalid card (Luhn)", "timestamp"} <= kinds
    assert all(e.value in e.text for e in examples)


def test_scoring_counts_changes():
    examples = [
        Example("mail a@b.co now", "a@b.co", "email", True),
        Example("v1.2.3 here", "v1.2.3", "v", False),
    ]
    s = score(lambda t: t.replace("a@b.co", "X").replace("1.2", "?"), examples)["overall"]
    assert (s["tp"], s["fn"], s["fp"], s["tn"]) == (1, 0, 1, 0)


def test_sharelm_beats_the_public_backends_anonymizer():
    result = compare(per_type=20, seed=7)
    ours, theirs = result["sharelm"], result["anonymization"]
    for scope in ("all_types", "baseline_types"):
        assert ours[scope]["overall"]["recall"] >= theirs[scope]["overall"]["recall"]
        assert ours[scope]["overall"]["precision"] >= theirs[scope]["overall"]["precision"]
    assert (
        ours["all_types"]["overall"]["recall"] >= 0.95 and ours["all_types"]["overall"]["precision"] >= 0.95
    )
