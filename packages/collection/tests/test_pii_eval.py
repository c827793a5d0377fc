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


def test_second_tier_set_has_every_type_and_look_alikes_tied_to_a_type():
    from sharelm_bench.labelled import NEW_POSITIVES, ORDINARY, labelled_set

    examples = labelled_set(per_kind=4, seed=2)
    positives = {e.kind for e in examples if e.positive}
    assert set(NEW_POSITIVES) <= positives and {"email", "iban"} <= positives
    targets = {e.target for e in examples if not e.positive}
    assert {"name", "address", "handle", "password", "ssn", "national_id", "date_of_birth"} <= targets
    assert any(e.kind == ORDINARY for e in examples)
    assert all(e.value in e.text for e in examples)


def test_multi_word_values_count_only_when_every_word_is_gone():
    from sharelm_bench.labelled import Example, found

    ex = Example(
        "I live at 48 Linden Road, Leeds LS6 2QX now.",
        "48 Linden Road, Leeds LS6 2QX",
        "address",
        True,
        "address",
    )
    assert found(ex, "I live at [REDACTED_ADDRESS] now.")
    assert not found(ex, "I live at [REDACTED_ADDRESS], Leeds LS6 2QX now.")  # half an address leaks
    neg = Example("Route 66 crosses eight states.", "Route 66 crosses eight states.", "x", False, "address")
    assert not found(neg, neg.text) and found(neg, "Route [X] crosses eight states.")


def test_look_alikes_count_against_the_type_they_imitate():
    from sharelm_bench.labelled import Example
    from sharelm_bench.pii_compare import score

    examples = [
        Example("a", "a", "address", True, "address"),
        Example("b", "b", "address", True, "address"),
        Example("c", "c", "street-like", False, "address"),
        Example("d", "d", "ordinary", False, "any"),
    ]
    s = score(examples, [True, False, True, False])
    assert s["per_type"]["address"] == {
        "tp": 1,
        "fn": 1,
        "fp": 1,
        "lookalikes": 1,
        "recall": 0.5,
        "precision": 0.5,
    }
    assert s["lookalikes_kept"] == 0.5


def test_sharelm_meets_the_second_tier_goals_on_a_fresh_seed():
    from sharelm_bench.pii_compare import compare_all
    from sharelm_bench.systems import sharelm

    result = compare_all(per_kind=40, seed=13, systems={"sharelm": sharelm}, log=lambda _: None)
    ours = result["systems"]["sharelm"]
    for kind, t in ours["per_type"].items():
        assert t["recall"] >= 0.9 and t["precision"] >= 0.9, (kind, t)
    assert ours["lookalikes_kept"] >= 0.98 and ours["errors"] == 0
