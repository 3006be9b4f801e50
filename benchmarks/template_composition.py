"""Template composition time: one message rendered (sandboxed Jinja2, segment fitting) and,
separately, rendered plus finished and judged by every guardrail, over every purpose x channel
x language with rotating leads and steps. In-process, no I/O: what the 5 ms p99 budget covers.
Wall time includes whatever the OS scheduler takes on a shared machine; thread CPU time
(time.thread_time) is the work itself. Not collected by pytest.

    .venv/bin/python -m benchmarks.template_composition [--messages 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid
from pathlib import Path

from services.content import guardrails, verdicts
from services.content.templates import CATALOGUE, render
from services.content.writer import AGENT_NOTIFICATION, Draft, Facts

FACTS = Facts(
    lead_first_name="Maria",
    agent_name="Ana Lopez",
    agent_phone="(512) 555-0100",
    city="Austin",
    source="web form",
    brand_name="Oak Realty",
    lead_full_name="Maria Garcia",
    lead_score=82,
    listing_label="12 Oak St",
    value_proposition="We answer every message the same day.",
    market_area="78701",
    market_median_price_usd=425_000,
    market_days_on_market=34,
    market_inventory=812,
    market_as_of="2026-10-01",
    appointment_label="Tue Dec 1 at 3:00 PM",
)
POLICY = verdicts.Policy(postal_address="100 Congress Ave, Austin, TX 78701")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    args = parser.parse_args()
    kinds = sorted(CATALOGUE)
    render_ms: list[float] = []
    full_ms: list[float] = []
    render_cpu_ms: list[float] = []
    full_cpu_ms: list[float] = []
    for i in range(args.messages):
        channel, purpose, language = kinds[i % len(kinds)]
        draft = Draft(
            lead_id=str(uuid.uuid4()),
            channel=channel,
            purpose=purpose,
            facts=FACTS,
            max_body_chars=guardrails.body_budget(channel, purpose != AGENT_NOTIFICATION, language),
            step_index=i % 5,
            language=language,
        )
        start, cpu_start = time.perf_counter(), time.thread_time()
        written = render(draft)
        mid, cpu_mid = time.perf_counter(), time.thread_time()
        finished = guardrails.finish(draft, written, postal_address=POLICY.postal_address)
        failed = verdicts.failures(verdicts.judge(draft, finished, POLICY))
        end, cpu_end = time.perf_counter(), time.thread_time()
        assert not failed, (written.model, failed)
        render_ms.append((mid - start) * 1000)
        full_ms.append((end - start) * 1000)
        render_cpu_ms.append((cpu_mid - cpu_start) * 1000)
        full_cpu_ms.append((cpu_end - cpu_start) * 1000)

    def summary(samples: list[float]) -> dict[str, float]:
        return {
            "p50": round(statistics.median(samples), 4),
            "p99": round(percentile(samples, 0.99), 4),
            "max": round(max(samples), 4),
        }

    result = {
        "messages": args.messages,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "render_wall_ms": summary(render_ms),
        "render_cpu_ms": summary(render_cpu_ms),
        "render_and_guardrails_wall_ms": summary(full_ms),
        "render_and_guardrails_cpu_ms": summary(full_cpu_ms),
    }
    print(json.dumps(result, indent=2))
    Path(__file__).with_name("template_composition_result.json").write_text(
        json.dumps(result, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
