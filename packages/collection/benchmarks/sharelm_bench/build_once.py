"""One build in a fresh process, so its peak memory is its own (`python -m sharelm_bench.build_once`)."""

from __future__ import annotations

import argparse
import json
import os

from sharelm.pipeline import BuildOptions, build
from sharelm.redact import _default_redactor

STAGES = {
    "validate": BuildOptions(redact=False, dedup=False, language=False),
    "validate+redact": BuildOptions(dedup=False, language=False),
    "validate+redact+exact-dedup": BuildOptions(near_dup=False, language=False),
    "validate+redact+dedup": BuildOptions(language=False),
    "full (+language)": BuildOptions(),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--stage", choices=list(STAGES), default="validate+redact+dedup")
    parser.add_argument("--pure", action="store_true", help="without the [fast] accelerator, if installed")
    args = parser.parse_args()
    if args.pure:
        os.environ["SHARELM_NO_ACCEL"] = "1"  # read when the redactor is first built, during the build
    report = build([args.input], args.output, STAGES[args.stage])
    accelerated = STAGES[args.stage].redact and _default_redactor().gate() is not None
    n = report.imported.conversations
    print(
        json.dumps(
            {
                "stage": args.stage + (" (pure Python)" if args.pure else ""),
                "redaction": "Hyperscan gate" if accelerated else "pure Python",
                "conversations_in": n,
                "conversations_out": report.written,
                "seconds": round(report.seconds, 2),
                "cpu_seconds": round(report.cpu_seconds, 2),
                "conv_per_s": round(n / report.seconds, 1),
                "conv_per_cpu_s": round(n / report.cpu_seconds, 1),
                "peak_rss_mb": round(report.peak_rss_mb, 1),
                "dedup": report.dedup,
                "redacted_conversations": report.redacted_conversations,
            }
        )
    )


if __name__ == "__main__":
    main()
