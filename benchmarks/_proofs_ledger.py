"""The proofs benchmark's ledger case (benchmarks/proofs.py), in its own process on a filled log: seal the
backlog with the real ``Sealer``, then time ``ProofService`` proofs (inclusion against the latest checkpoint,
inclusion of the newest entries from the store and from memory, consistency between two checkpoints) and
their verification."""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import measure_phase, peak_rss_kib

from _proofs_storage import database_mib, tree_storage
from _proofs_timing import Timings, rate, timed_calls

from adapters.files.signing_key import ensure_signing_key
from adapters.log_recorder import system_clock
from adapters.storage import StorageConfig, open_tree_store
from ledger_core.engine.auditing import ProofService
from ledger_core.engine.right_edge import RightEdge
from ledger_core.engine.sealing import Sealer, SealPolicy
from proofs.checkpoint import verify_checkpoint  # submodules: mypy sees `proofs` as this file
from proofs.note import vkey_from_public_key
from proofs.verify import verify_consistency, verify_inclusion

WARMUP = 200  # proofs of each kind before timing


@dataclass(frozen=True)
class CaseParams:
    entries: int
    seal_batch: int
    samples: int
    verify_seconds: float
    seed: int


@dataclass
class Sealed:
    """The sealing phase: its measurement, the time of each batch, and the checkpoints' roots by size."""

    phase: Any
    batch_seconds: list[float]
    nodes_written: int
    roots: dict[int, bytes]
    size: int

    def summary(self, params: CaseParams) -> dict[str, Any]:
        seal, batch_seconds = self.phase, self.batch_seconds
        seal_rate = params.entries / seal.seconds if seal.seconds > 0 else 0.0
        return {
            "entries_per_s": round(seal_rate, 1),
            "seconds": round(seal.seconds, 3),
            "checkpoints": len(batch_seconds),
            "max_batch_entries": params.seal_batch,
            "batch_s_min": round(min(batch_seconds), 3) if batch_seconds else None,
            "batch_s_max": round(max(batch_seconds), 3) if batch_seconds else None,
            "nodes_written": self.nodes_written,
            "process_cpu_util": round(seal.cpu_seconds / seal.seconds, 2) if seal.seconds > 0 else None,
            "machine_busy": None if seal.machine_busy is None else round(seal.machine_busy, 2),
            "rss_peak_mib": round(seal.rss_peak_kib / 1024, 1),
        }


@dataclass
class Proved:
    """Timed proofs of one kind, and per proof the arguments ``proofs.verify_*`` checks it with."""

    timings: Timings
    items: list[tuple[Any, ...]]
    first_ms: float = 0.0


def seal_backlog(store: Any, signer: Any, vkey: Any, params: CaseParams, edge: RightEdge) -> Sealed:
    """Integrate the whole backlog as signed checkpoints; check the latest one's size and signature."""
    policy = SealPolicy(max_batch_entries=params.seal_batch)
    sealer = Sealer(store, signer, system_clock, policy=policy, edge=edge)
    batch_seconds: list[float] = []
    nodes_written = 0
    with measure_phase() as seal:
        while True:
            started = time.perf_counter()
            result = sealer.seal_once()
            if result is None:
                break
            batch_seconds.append(time.perf_counter() - started)
            nodes_written += result.nodes_written
    latest = store.latest_checkpoint()
    if latest is None or latest.size != params.entries:
        raise RuntimeError(f"sealed {None if latest is None else latest.size} entries, not {params.entries}")
    verify_checkpoint(latest.note, vkey)
    checkpoints = list(store.checkpoints(0, params.entries + 1))
    roots = {c.size: c.root_hash for c in checkpoints}
    return Sealed(seal, batch_seconds, nodes_written, roots, latest.size)


def prove_inclusion(service: ProofService, rng: random.Random, sealed: Sealed, samples: int) -> Proved:
    """Inclusion proofs of random positions against the latest checkpoint: the first (cold), a warm-up, then
    ``samples`` timed."""
    size = sealed.size
    started = time.perf_counter()
    service.inclusion(rng.randrange(size))
    first_ms = (time.perf_counter() - started) * 1000
    for _ in range(WARMUP):
        service.inclusion(rng.randrange(size))
    positions = [rng.randrange(size) for _ in range(samples)]
    inclusion = timed_calls([lambda p=p: service.inclusion(p) for p in positions])
    items: list[tuple[Any, ...]] = []
    for proof, record in inclusion.results:
        if record.size != size:
            raise RuntimeError("the latest checkpoint moved during the benchmark")
        items.append((proof.leaf_hash, proof.leaf_index, proof.tree_size, proof.path, sealed.roots[size]))
    return Proved(inclusion, items, first_ms)


def prove_recent(
    store: Any, service: ProofService, edge: RightEdge, rng: random.Random, size: int, samples: int
) -> dict[str, Timings]:
    """Inclusion proofs of the newest entries (a write's proof): nodes from the store vs from memory."""
    recent = [size - 1 - rng.randrange(min(edge.window, size)) for _ in range(WARMUP + samples)]
    recent_timings = {}
    for source, recent_service in (("store", service), ("memory", ProofService(store, edge=edge))):
        for position in recent[:WARMUP]:
            recent_service.prove_many([position], size)
        recent_timings[source] = timed_calls(
            [lambda p=p, s=recent_service: s.prove_many([p], size) for p in recent[WARMUP:]]
        )
    if recent_timings["store"].results != recent_timings["memory"].results:
        raise RuntimeError("proofs from memory differ from proofs from the store")
    return recent_timings


def prove_consistency(service: ProofService, rng: random.Random, roots: dict[int, bytes], samples: int) -> Proved:
    """Consistency proofs between two random checkpoints (old < new), after a warm-up; none below two."""
    sizes = sorted(roots)
    consistency = Timings([], [], [], None)
    items: list[tuple[Any, ...]] = []
    if len(sizes) >= 2:
        pairs = [tuple(sorted(rng.sample(sizes, 2))) for _ in range(WARMUP + samples)]
        for old, new in pairs[:WARMUP]:
            service.consistency(old, new)
        consistency = timed_calls([lambda a=a, b=b: service.consistency(a, b) for a, b in pairs[WARMUP:]])
        for proof, _, _ in consistency.results:
            items.append((proof.from_size, proof.to_size, roots[proof.from_size], roots[proof.to_size], proof.path))
    return Proved(consistency, items)


def ledger_case(url: str, params: CaseParams) -> dict[str, Any]:
    """Seal the filled log at ``url``, then time proofs and verification (one process, one store)."""
    rng = random.Random(params.seed + 1)
    with tempfile.TemporaryDirectory(prefix="bench-proofs-") as data_dir:
        signer = ensure_signing_key(Path(data_dir))
        vkey = vkey_from_public_key(signer.name, signer.private_key.public_key())
        store = open_tree_store(StorageConfig(Path(data_dir), url))
        try:
            rss_start = peak_rss_kib()
            edge = RightEdge()  # as the embedded sealer keeps it: proofs of the newest entries from memory
            sealed = seal_backlog(store, signer, vkey, params, edge)
            service = ProofService(store)
            inclusion = prove_inclusion(service, rng, sealed, params.samples)
            recent = prove_recent(store, service, edge, rng, sealed.size, params.samples)
            consistency = prove_consistency(service, rng, sealed.roots, params.samples)
            # -- verification: pure CPU, this thread only; the first pass checks every proof
            verified = {
                "inclusion": rate(inclusion.items, verify_inclusion, params.verify_seconds),
                "consistency": rate(consistency.items, verify_consistency, params.verify_seconds),
            }
            storage = tree_storage(url, store, params.entries)
        finally:
            store.close()
        db_mib = database_mib(url)
    return {
        "entries": params.entries,
        "root": sealed.roots[sealed.size].hex(),
        "checkpoint_verified": True,
        "db_mib": db_mib,
        "tree_storage": storage,
        "sealing": sealed.summary(params),
        **proofs_json(inclusion, recent, consistency, min(edge.window, sealed.size)),
        "verify": {**verified, "all_valid": True},
        "rss_start_mib": round(rss_start / 1024, 1),
        "rss_peak_mib": round(peak_rss_kib() / 1024, 1),
    }


def proofs_json(inclusion: Proved, recent: dict[str, Timings], consistency: Proved, window: int) -> dict[str, Any]:
    """The case's ``inclusion``, ``recent_inclusion`` and ``consistency`` figures."""
    return {
        "inclusion": {
            **inclusion.timings.summary(),
            "first_ms": round(inclusion.first_ms, 3),
            "against": "latest checkpoint",
            "path_hashes_mean": round(sum(len(i[3]) for i in inclusion.items) / max(len(inclusion.items), 1), 1),
        },
        "recent_inclusion": {
            "positions": f"the newest {window} entries (the right edge in memory)",
            "store": recent["store"].summary(),
            "memory": recent["memory"].summary(),
        },
        "consistency": {
            **consistency.timings.summary(),
            "pairs": "two random checkpoints, old < new",
            "path_hashes_mean": round(sum(len(i[4]) for i in consistency.items) / max(len(consistency.items), 1), 1)
            if consistency.items
            else None,
        },
    }
