"""What crosses the client boundary, and the check that nothing else does.

Server -> client (one TRAIN message a round): record "round" (ConfigRecord) with the round number, the
synthetic samples to score (text + intended label) and the accepted synthetic set to learn from; under the
FedAvg baseline also "slm" (ArrayRecord, the global weights).
Client -> server: "feedback" (MetricRecord: one quality score per synthetic sample) and "metrics"
(MetricRecord: counts including examples per label, local accuracy, timings, privacy spent); under FedAvg
also "slm" (floating-point weights).
"""

from __future__ import annotations

from flwr.app import ArrayRecord, ConfigRecord, MetricRecord, RecordDict

ROUND = "round"
FEEDBACK = "feedback"
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
    feedback: list[float], metrics: dict[str, float | int], weights: ArrayRecord | None = None
) -> RecordDict:
    content = RecordDict(
        {
            FEEDBACK: MetricRecord({"quality": [float(q) for q in feedback]}),
            METRICS: MetricRecord(dict(metrics)),
        }
    )
    if weights is not None:
        content[SLM_WEIGHTS] = weights
    validate_reply(content, num_samples=len(feedback), allow_weights=weights is not None)
    return content


def validate_reply(content: RecordDict, num_samples: int, allow_weights: bool = False) -> None:
    """Raise ProtocolError unless `content` holds only feedback, whitelisted metrics (and FedAvg weights)."""
    allowed = {FEEDBACK, METRICS} | ({SLM_WEIGHTS} if allow_weights else set())
    if extra := set(content.keys()) - allowed:
        raise ProtocolError(f"reply carries records {sorted(extra)}; allowed: {sorted(allowed)}")
    for name in (FEEDBACK, METRICS):
        if not isinstance(content.get(name), MetricRecord):
            raise ProtocolError(f"reply record {name!r} must be a MetricRecord")
    if set(content[FEEDBACK].keys()) != {"quality"}:
        raise ProtocolError("feedback record must hold exactly 'quality'")
    quality = content[FEEDBACK]["quality"]
    if len(quality) != num_samples or any(not 0.0 <= q <= 1.0 for q in quality):
        raise ProtocolError(f"feedback must be {num_samples} scores in [0, 1]")
    if extra := set(content[METRICS].keys()) - METRIC_KEYS:
        raise ProtocolError(f"metrics {sorted(extra)} are not in the protocol's whitelist")
    if SLM_WEIGHTS in content and not isinstance(content[SLM_WEIGHTS], ArrayRecord):
        raise ProtocolError("slm weights must be an ArrayRecord")
