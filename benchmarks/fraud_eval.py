"""Fraud-rule evaluation: a labelled synthetic claim stream with injected fraud, precision/recall, speed.

Generates a reproducible stream (``--seed``) of claims from several partners, each partner with its own
amount distribution per claim type (log-normal), fresh documents per claim (registered first) and a large
pool of policy references. After a warm-up that gives every partner/type some history, three fraud
patterns are injected:

* ``document_reuse``: the claim lists a photo already used by an earlier claim (of any partner; the
  reusing partner registers the same bytes as its own document);
* ``amount_outlier``: the amount is 5-60 times the partner's typical amount for the type;
* ``velocity_burst``: 4 claims on one policy reference within a few days. The first two are labelled
  legitimate (two claims a month on one policy happen); the 3rd and 4th, the excess, are fraud.

Each claim is verified at level ``enhanced`` exactly as the service does (facts snapshot from the
log-derived index, gather inputs, decide) and then fed to the index, as its log entry would be. A claim
counts as detected when it is ``flagged``. Timings cover snapshot + gather + decide: the verification
without I/O (no save, no network), as wall time and as this thread's CPU time (the same work without the
preemptions of a shared machine). Baselines, side by side: ``standard-v1`` (documents only; what the
API did before the rules engine: it flags nothing) and a fixed amount threshold (flag above a single
amount for every partner and type: what "robust statistics, not a fixed threshold" replaces).

Targets (issue 7): recall >= 0.95 for document reuse, >= 0.8 overall at precision >= 0.9, p99 <= 5 ms.

With ``--storage`` (default on; ``--no-storage`` skips it) the first claims of the stream are also
submitted through :class:`~ledger_core.claims.verification.ClaimVerificationService` on each backend
(SQLite file, PostgreSQL schema), one thread, to time submit + first verification *with* I/O: the new path
saves the claim and its verification together; the previous path (submit, then record the verification)
took two saves. The one-save path runs with each ``ClaimFacts`` implementation (``memory``:
:class:`adapters.memory.claim_facts.LogDerivedClaimFacts`; ``table``:
:class:`adapters.table_claim_facts.TableClaimFacts`): wall time, this process's CPU per claim, and what a
new process's facts hold (tracemalloc) once caught up with those claims.

Usage: ``python benchmarks/fraud_eval.py [--quick] [--claims N] [--seed S] [--backends sqlite,postgresql]``.
Human-readable tables go to stderr; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import math
import random
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from _common import base_parser, emit_json, log, machine_info, parse_backends, print_table, utc_now

from ledger_core.claims.facts import CLAIM_SUBMITTED, DOCUMENT_REGISTERED, ClaimFactsIndex
from ledger_core.claims.risk_rules import CURRENT_RULE_SET, RULE_SETS
from ledger_core.claims.submission import ClaimSubmission, validate_submission
from ledger_core.claims.verification import decide, facts_query, gather_inputs
from ledger_core.shared.money import format_amount
from ledger_core.shared.validation import format_timestamp
from ledger_core.shared.vocabulary import ClaimStatus

PATTERNS = ("document_reuse", "amount_outlier", "velocity_burst")
RULE_OF = {"document_reuse": "document_reused", "amount_outlier": "amount_outlier", "velocity_burst": "velocity_burst"}
TYPES = {"auto": 3_000, "property": 12_000, "health": 2_000, "liability": 8_000}
CURRENCIES = ("USD", "EUR", "GBP")
FIXED_THRESHOLD = Decimal("40000")
START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Claim:
    submission: ClaimSubmission
    received_at: str
    label: str | None
    registrations: list[tuple[str, str]] = field(default_factory=list)  # (hash, type) registered just before


@dataclass
class Partner:
    partner_id: str
    currency: str
    scale: float
    policies: int


class Stream:
    """The synthetic stream: ordinary claims with fraud injected after the warm-up (reproducible)."""

    def __init__(self, claims: int, seed: int, fraud_rate: float) -> None:
        self.random = random.Random(seed)
        self.total = claims
        self.fraud_rate = fraud_rate
        self.partners = [
            Partner(f"partner_{n}", CURRENCIES[n % 3], self.random.uniform(0.5, 2.0), 20_000) for n in range(5)
        ]
        self.warm_up = max(len(self.partners) * len(TYPES) * 30, claims // 5)
        self.used_photos: list[str] = []
        self.counter = 0

    def _hash(self) -> str:
        self.counter += 1
        return hashlib.sha256(f"synthetic {self.counter}".encode()).hexdigest()

    def _amount(self, partner: Partner, claim_type: str, factor: float = 1.0) -> str:
        value = TYPES[claim_type] * partner.scale * math.exp(self.random.gauss(0, 0.45)) * factor
        return f"{max(value, 1.0):.2f}"

    def _claim(
        self,
        index: int,
        partner: Partner,
        *,
        label: str | None,
        amount_factor: float = 1.0,
        photo: str | None = None,
        policy: str | None = None,
        day: float | None = None,
    ) -> Claim:
        claim_type = self.random.choice(list(TYPES))
        moment = START + timedelta(days=365 * index / self.total if day is None else day)
        reference = policy or f"POL-{self.random.randrange(partner.policies)}"
        photo_hash = photo or self._hash()
        documents = [{"type": "photo", "hash": photo_hash, "metadata": {"policyReference": reference}}]
        registrations = [(photo_hash, "photo")]
        if self.random.random() < 0.5:
            form = self._hash()
            documents.append({"type": "pdf", "hash": form, "metadata": {}})
            registrations.append((form, "pdf"))
        submission = validate_submission(
            partner_id=partner.partner_id,
            partner_claim_id=f"{partner.partner_id}-{index}-{self.counter}",
            claim_type=claim_type,
            claim_amount=self._amount(partner, claim_type, amount_factor),
            currency=partner.currency,
            submitted_at=format_timestamp(moment),
            documents=documents,
            verification_level="enhanced",
        )
        received = moment + timedelta(minutes=self.random.uniform(1, 60 * 24 * 5))
        if photo is None:
            self.used_photos.append(photo_hash)
        return Claim(submission, format_timestamp(received), label, registrations)

    def __iter__(self) -> Iterator[Claim]:
        index = 0
        while index < self.total:
            partner = self.random.choice(self.partners)
            roll = self.random.random()
            if index < self.warm_up or roll >= self.fraud_rate * 3:
                yield self._claim(index, partner, label=None)
                index += 1
            elif roll < self.fraud_rate:
                yield self._claim(index, partner, label="document_reuse", photo=self.random.choice(self.used_photos))
                index += 1
            elif roll < self.fraud_rate * 2:
                yield self._claim(index, partner, label="amount_outlier", amount_factor=self.random.uniform(5, 60))
                index += 1
            else:
                policy = f"BURST-{index}"
                day = 365 * index / self.total
                for step in range(4):
                    label = "velocity_burst" if step >= 2 else None
                    yield self._claim(index, partner, label=label, policy=policy, day=day + step * 1.5)
                    index += 1


def register(index: ClaimFactsIndex, position: int, claim: Claim) -> int:
    """Append the claim's ``document.registered`` entries (the partner uploads before submitting)."""
    for digest, kind in claim.registrations:
        payload = {"sha256": digest, "document_type": kind, "metadata": {}}
        index.feed(position, DOCUMENT_REGISTERED, f"doc-{digest[:16]}", claim.submission.partner_id, payload)
        position += 1
    return position


def submit(index: ClaimFactsIndex, position: int, claim: Claim) -> int:
    """Append the claim's ``claim.submitted`` entry, as the log would after the verification."""
    submission = claim.submission
    payload = {
        "documents": [document.to_json() for document in submission.documents],
        "claim_type": submission.claim_type.value,
        "currency": submission.currency.value,
        "claim_amount": format_amount(submission.claim_amount, submission.currency),
        "submitted_at": submission.submitted_at,
    }
    index.feed(position, CLAIM_SUBMITTED, str(submission.claim_id), submission.partner_id, payload)
    return position + 1


@dataclass
class Tally:
    positives: int = 0
    detected: int = 0
    fired: int = 0
    fired_correct: int = 0

    def add(self, *, positive: bool, flagged: bool, fired: bool) -> None:
        self.positives += positive
        self.detected += positive and flagged
        self.fired += fired
        self.fired_correct += fired and positive

    @property
    def recall(self) -> float | None:
        return None if not self.positives else self.detected / self.positives

    @property
    def precision(self) -> float | None:
        return None if not self.fired else self.fired_correct / self.fired


def evaluate(stream: Stream) -> dict[str, Any]:
    params = RULE_SETS[CURRENT_RULE_SET]
    index = ClaimFactsIndex()
    position = 0
    timings: list[int] = []
    cpu_timings: list[int] = []  # this thread's CPU time: the same work without the machine's preemptions
    per_pattern = {pattern: Tally() for pattern in PATTERNS}
    overall, baseline_fixed, baseline_standard = Tally(), Tally(), Tally()
    claims = negatives_flagged = 0
    for claim in stream:
        position = register(index, position, claim)
        started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
        snapshot = index.snapshot(facts_query(claim.submission, params))
        inputs = gather_inputs(
            claim.submission,
            snapshot,
            received_at=claim.received_at,
            evaluated_at=claim.received_at,
            cross_partner=params.cross_partner,
        )
        decision = decide(inputs, CURRENT_RULE_SET)
        timings.append(time.perf_counter_ns() - started)
        cpu_timings.append(time.thread_time_ns() - started_cpu)
        position = submit(index, position, claim)
        claims += 1
        flagged = decision.status is ClaimStatus.FLAGGED
        positive = claim.label is not None
        overall.add(positive=positive, flagged=flagged, fired=flagged)
        negatives_flagged += flagged and not positive
        for pattern, tally in per_pattern.items():
            fired = flagged and RULE_OF[pattern] in decision.factors
            tally.add(positive=claim.label == pattern, flagged=flagged, fired=fired)
        fixed = claim.submission.claim_amount > FIXED_THRESHOLD
        baseline_fixed.add(positive=claim.label == "amount_outlier", flagged=fixed, fired=fixed)
        standard = decide(dataclasses.replace(inputs, verification_level="standard"), CURRENT_RULE_SET)
        standard_flagged = standard.status is ClaimStatus.FLAGGED
        baseline_standard.add(positive=positive, flagged=standard_flagged, fired=standard_flagged)
    timings.sort()
    cpu_timings.sort()
    total_s = sum(timings) / 1e9
    return {
        "claims": claims,
        "warm_up_claims": stream.warm_up,
        "positives": overall.positives,
        "false_positives": negatives_flagged,
        "overall": {"precision": overall.precision, "recall": overall.recall},
        "patterns": {
            pattern: {"positives": t.positives, "precision": t.precision, "recall": t.recall}
            for pattern, t in per_pattern.items()
        },
        "baselines": {
            "standard-v1 (documents only)": {
                "precision": baseline_standard.precision,
                "recall": baseline_standard.recall,
            },
            f"fixed amount > {FIXED_THRESHOLD} (amount_outlier)": {
                "precision": baseline_fixed.precision,
                "recall": baseline_fixed.recall,
            },
        },
        "verification": {
            "per_second": claims / total_s if total_s else None,
            "p50_ms": timings[len(timings) // 2] / 1e6,
            "p99_ms": timings[min(len(timings) - 1, int(len(timings) * 0.99))] / 1e6,
            "max_ms": timings[-1] / 1e6,
            "mean_ms": statistics.fmean(timings) / 1e6,
            "cpu_p50_ms": cpu_timings[len(cpu_timings) // 2] / 1e6,
            "cpu_p99_ms": cpu_timings[min(len(cpu_timings) - 1, int(len(cpu_timings) * 0.99))] / 1e6,
        },
    }


def _storage_case(url: str, data_dir: str, claims: list[Claim], two_saves: bool, facts_mode: str) -> dict[str, Any]:
    """Submit ``claims`` (documents registered first) on real storage; time each submit + verification (wall
    and this process's CPU; a PostgreSQL server's own CPU is not in it), then measure what a new process's
    facts hold once caught up with those claims (tracemalloc)."""
    import tracemalloc

    from adapters.opening import open_ledger
    from adapters.storage import ClaimFactsMode, StorageConfig
    from ledger_core.claims.claim import Claim as ClaimAggregate
    from ledger_core.claims.verification import ClaimVerificationService
    from ledger_core.shared.service_support import save

    timings: list[int] = []
    cpu: list[int] = []
    config = StorageConfig(Path(data_dir), url, claim_facts=ClaimFactsMode(facts_mode))
    with open_ledger(config) as ledger:
        service = ClaimVerificationService(ledger.app, ledger.claim_facts, _now)
        for claim in claims:
            for digest, kind in claim.registrations:
                media = "image/jpeg" if kind == "photo" else "application/pdf"
                ledger.documents.register(
                    partner_id=claim.submission.partner_id,
                    sha256=digest,
                    document_type=kind,
                    media_type=media,
                    size_bytes=1,
                    metadata={},
                )
            started, started_cpu = time.perf_counter_ns(), time.process_time_ns()
            if two_saves:  # the path before issue 7: save the claim, then save its verification
                save(ledger.app, ClaimAggregate.from_submission(claim.submission))
                service.verify(claim.submission.claim_id, claim.submission.partner_id)
            else:
                service.submit(claim.submission)
            cpu.append(time.process_time_ns() - started_cpu)
            timings.append(time.perf_counter_ns() - started)
    with open_ledger(config) as fresh:  # a new process: what its facts hold after its first question
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        fresh.claim_facts.bulk_snapshot([])
        held = tracemalloc.take_snapshot().compare_to(before, "filename")
        tracemalloc.stop()
    timings.sort()
    total_s = sum(timings) / 1e9
    return {
        "claims": len(timings),
        "facts": facts_mode,
        "per_second": len(timings) / total_s,
        "p50_ms": timings[len(timings) // 2] / 1e6,
        "p99_ms": timings[min(len(timings) - 1, int(len(timings) * 0.99))] / 1e6,
        "cpu_ms_per_claim": sum(cpu) / len(cpu) / 1e6,
        "facts_bytes_per_claim": max(0, sum(stat.size_diff for stat in held)) / len(timings),
    }


def _now() -> datetime:
    return datetime.now(UTC)


def storage(backends: list[str], postgres_url: str, claims: list[Claim]) -> dict[str, Any]:
    """Submit + first verification with I/O, one save vs two saves, on each backend (fresh databases)."""
    import tempfile

    from _common import fresh_postgres_schema, fresh_sqlite_file

    results: dict[str, Any] = {}
    for backend in backends:
        cases = (
            ("one save, memory facts", False, "memory"),
            ("one save, table facts", False, "table"),
            ("two saves (before), memory facts", True, "memory"),
        )
        for label, two_saves, facts_mode in cases:
            with tempfile.TemporaryDirectory(prefix="bench-keys-") as data_dir:
                if backend == "sqlite":
                    with fresh_sqlite_file() as path:
                        case = _storage_case(f"sqlite:///{path}", data_dir, claims, two_saves, facts_mode)
                else:
                    with fresh_postgres_schema(postgres_url, "fraud") as schema:
                        case = _storage_case(schema.url, data_dir, claims, two_saves, facts_mode)
            results[f"{backend}: {label}"] = case
            log(
                f"  {backend} {label}: {case['per_second']:,.0f}/s, p99 {case['p99_ms']:.2f} ms,"
                f" CPU {case['cpu_ms_per_claim']:.2f} ms/claim, facts {case['facts_bytes_per_claim']:,.0f} B/claim"
            )
    return results


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "fraud evaluation")
    parser.add_argument("--claims", type=int, default=None, help="stream length (default 20000; --quick 4000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fraud-rate", type=float, default=0.02, help="per-pattern injection rate after warm-up")
    parser.add_argument("--storage", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    claims = args.claims or (4_000 if args.quick else 20_000)
    log(f"fraud_eval: {claims} claims, seed {args.seed}, rule set {CURRENT_RULE_SET}")
    result = evaluate(Stream(claims, args.seed, args.fraud_rate))
    rows = [
        ["overall", str(result["positives"]), _fmt(result["overall"]["precision"]), _fmt(result["overall"]["recall"])]
    ]
    rows += [
        [pattern, str(figures["positives"]), _fmt(figures["precision"]), _fmt(figures["recall"])]
        for pattern, figures in result["patterns"].items()
    ]
    rows += [
        [name, "", _fmt(figures["precision"]), _fmt(figures["recall"])] for name, figures in result["baselines"].items()
    ]
    print_table(
        ["pattern / baseline", "positives", "precision", "recall"], rows, title="Detection (flagged = detected)"
    )
    speed = result["verification"]
    print_table(
        ["verification (no I/O)", "per second", "p50 ms", "p99 ms", "max ms", "CPU p50 ms", "CPU p99 ms"],
        [
            [
                f"{CURRENT_RULE_SET}, enhanced",
                f"{speed['per_second']:,.0f}",
                f"{speed['p50_ms']:.3f}",
                f"{speed['p99_ms']:.3f}",
                f"{speed['max_ms']:.3f}",
                f"{speed['cpu_p50_ms']:.3f}",
                f"{speed['cpu_p99_ms']:.3f}",
            ]
        ],
    )
    with_io: dict[str, Any] = {}
    if args.storage:
        count = 150 if args.quick else 1_000
        log(f"submit + first verification with I/O, {count} claims, one thread")
        sample = list(itertools.islice(Stream(claims, args.seed, args.fraud_rate), count))
        with_io = storage(parse_backends(args.backends), args.postgres_url, sample)
        print_table(
            ["submit + verify (with I/O)", "per second", "p50 ms", "p99 ms", "CPU ms/claim", "facts B/claim"],
            [
                [
                    name,
                    f"{case['per_second']:,.0f}",
                    f"{case['p50_ms']:.2f}",
                    f"{case['p99_ms']:.2f}",
                    f"{case['cpu_ms_per_claim']:.2f}",
                    f"{case['facts_bytes_per_claim']:,.0f}",
                ]
                for name, case in with_io.items()
            ],
        )
    targets = {
        "document_reuse_recall_ge_0_95": (result["patterns"]["document_reuse"]["recall"] or 0) >= 0.95,
        "overall_recall_ge_0_8": (result["overall"]["recall"] or 0) >= 0.8,
        "overall_precision_ge_0_9": (result["overall"]["precision"] or 0) >= 0.9,
        "p99_le_5_ms": speed["p99_ms"] <= 5.0,
    }
    emit_json(
        {
            "benchmark": "fraud_eval",
            "when": utc_now(),
            "quick": args.quick,
            "seed": args.seed,
            "fraud_rate": args.fraud_rate,
            "rule_set": CURRENT_RULE_SET,
            "machine": machine_info(args.postgres_url if args.storage else None),
            **result,
            "submit_with_io": with_io,
            "targets_met": targets,
        },
        args.json_out,
    )


if __name__ == "__main__":
    main()
