"""What crosses the client boundary, and the check that nothing else does.

Server -> client (one TRAIN message a round): record "round" (ConfigRecord) with the round number, the
synthetic samples to score (text + intended label) and the accepted synthetic set to learn from; under the
FedAvg baseline also "slm" (ArrayRecord, the global weights).
Client -> server: "feedback" (MetricRecord: one quality score per synthetic sample, "quality"; with
`relabel`, the SLM's probability of every label per sample instead, "label_probs", sample-major) and "metrics"
(MetricRecord: counts including examples per label, local accuracy, timings, privacy spent); under FedAvg
also "slm" (floating-point weights).
"""

from __future__ import annotations

from flwr.app import ArrayRecord, ConfigRecord, MetricRecord, RecordDict

ROUND = "round"
FEEDBACK = "feedback"
QUALITY = "quality"  # one score per sample: P(intended label)
LABEL_PROBS = "label_probs"  # per-label feedback: num_samples x num_labels probabilities, sample-major
METRICS = "metrics"
SLM_WEIGHTS = "slm"
# Every number a client may report; anything else (text above all) is a protocol violation.
METRIC_KEYS = frozenset(
    {
        "partition_id",
        "num_examples",
        "num_test",
        "num_synthetic_train",
        "label_counts",  # examples per label (numbers only): the synthetic label mix, label-weighted feedback
        "best_epoch",
        "test_accuracy",
        "train_loss",
        "compute_s",
        "epsilon",
        "round",
    }
)


class ProtocolError(ValueError):
    """A client reply carrying something the protocol does not allow out of a silo."""


def round_message(
    rnd: int,
    score: list[tuple[str, str]],
    train: list[tuple[str, str, float]],
    weights: ArrayRecord | None = None,
) -> RecordDict:
    content = RecordDict(
        {
            ROUND: ConfigRecord(
                {
                    "round": rnd,
                    "score_texts": [t for t, _ in score],
                    "score_labels": [y for _, y in score],
                    "train_texts": [t for t, _, _ in train],
                    "train_labels": [y for _, y, _ in train],
                    "train_weights": [float(w) for _, _, w in train],  # the samples' quality
                }
            )
        }
    )
    if weights is not None:
        content[SLM_WEIGHTS] = weights
    return content


def client_reply(
    feedback: list[float],
    metrics: dict[str, float | int],
    weights: ArrayRecord | None = None,
    per_label: bool = False,
) -> RecordDict:
    """The reply; `per_label`: `feedback` holds a probability per label per sample (as many labels as
    `metrics["label_counts"]` has entries)."""
    content = RecordDict(
        {
            FEEDBACK: MetricRecord({LABEL_PROBS if per_label else QUALITY: [float(q) for q in feedback]}),
            METRICS: MetricRecord(dict(metrics)),
        }
    )
    if weights is not None:
        content[SLM_WEIGHTS] = weights
    num_labels = len(metrics.get("label_counts", [])) if per_label else 0
    if per_label and not num_labels:
        raise ProtocolError("per-label feedback needs the 'label_counts' metric (one entry per label)")
    validate_reply(
        content, len(feedback) // max(1, num_labels), allow_weights=weights is not None, num_labels=num_labels
    )
    return content


def validate_reply(
    content: RecordDict, num_samples: int, allow_weights: bool = False, num_labels: int = 0
) -> None:
    """Raise ProtocolError unless `content` holds only feedback, whitelisted metrics (and FedAvg weights).

    `num_labels` > 0: per-label feedback, `num_samples` x `num_labels` probabilities."""
    allowed = {FEEDBACK, METRICS} | ({SLM_WEIGHTS} if allow_weights else set())
    if extra := set(content.keys()) - allowed:
        raise ProtocolError(f"reply carries records {sorted(extra)}; allowed: {sorted(allowed)}")
    for name in (FEEDBACK, METRICS):
        if not isinstance(content.get(name), MetricRecord):
            raise ProtocolError(f"reply record {name!r} must be a MetricRecord")
    key = LABEL_PROBS if num_labels else QUALITY
    if set(content[FEEDBACK].keys()) != {key}:
        raise ProtocolError(f"feedback record must hold exactly {key!r}")
    scores, size = content[FEEDBACK][key], num_samples * max(1, num_labels)
    if len(scores) != size or any(not 0.0 <= q <= 1.0 for q in scores):
        raise ProtocolError(f"feedback must be {size} scores in [0, 1]")
    if extra := set(content[METRICS].keys()) - METRIC_KEYS:
        raise ProtocolError(f"metrics {sorted(extra)} are not in the protocol's whitelist")
    if num_labels and len(content[METRICS].get("label_counts", [])) != num_labels:
        raise ProtocolError(f"per-label feedback needs 'label_counts' for all {num_labels} labels")
    if SLM_WEIGHTS in content and not isinstance(content[SLM_WEIGHTS], ArrayRecord):
        raise ProtocolError("slm weights must be an ArrayRecord")
