"""Hypothesis properties of the log on both backends: replay determinism and tamper detection."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.databases import execute, fresh_database
from support.ledgers import TOY_MASTER_KEY, open_toy_ledger
from support.toy import Account

from ledger_core.engine.errors import ChainBroken

BACKENDS = ["sqlite", "postgresql"]
EXAMPLES = {"sqlite": 40, "postgresql": 12}

# A command: ("open", account) or ("note", account, text); saved in groups of 1-3 commands.
commands = st.lists(
    st.one_of(
        st.tuples(st.just("open"), st.integers(0, 5)),
        st.tuples(st.just("note"), st.integers(0, 5), st.text(max_size=12)),
    ),
    min_size=1,
    max_size=25,
)


def backend_url(kind: str, request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("postgres_server") if kind == "postgresql" else None


def run(url: str, script: list[tuple[object, ...]]) -> tuple[list[bytes], dict[str, list[str]]]:
    """Apply the commands; return the stored leaf hashes and the state each account should have."""
    ledger, recorder = open_toy_ledger(url)
    expected: dict[str, list[str]] = {}
    with ledger:
        accounts: dict[int, Account] = {}
        for command in script:
            number = int(command[1])  # type: ignore[call-overload]
            if command[0] == "open" and number not in accounts:
                accounts[number] = Account.open("p", f"acct{number}")
                expected[str(accounts[number].id)] = []
                ledger.app.save(accounts[number])
            elif command[0] == "note" and number in accounts:
                accounts[number].note(str(command[2]))
                expected[str(accounts[number].id)].append(str(command[2]))
                ledger.app.save(accounts[number])
        hashes = [row.leaf_hash for row in recorder.read_rows(0, 10_000)]
    return hashes, expected


@pytest.mark.parametrize("kind", BACKENDS)
def test_replay_is_deterministic(kind: str, request: pytest.FixtureRequest) -> None:
    """The same commands on two fresh ledgers give identical leaf hashes, and state rebuilt from the log."""
    server = backend_url(kind, request)

    @settings(max_examples=EXAMPLES[kind], deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(commands)
    def check(script: list[tuple[object, ...]]) -> None:
        with fresh_database(kind, server) as first, fresh_database(kind, server) as second:
            hashes_a, expected = run(first, script)
            hashes_b, _ = run(second, script)
            assert hashes_a == hashes_b
            ledger, _ = open_toy_ledger(first)
            with ledger:
                assert ledger.verify().size == len(hashes_a)
                for aggregate_id, notes in expected.items():
                    from uuid import UUID

                    assert ledger.app.load(Account, UUID(aggregate_id), "account").notes == notes

    check()


@pytest.mark.parametrize("kind", BACKENDS)
def test_any_tampering_is_found_at_its_position(kind: str, request: pytest.FixtureRequest) -> None:
    """Flipping any byte of any entry, deleting a non-final entry or swapping two entries breaks verify there."""
    server = backend_url(kind, request)

    @settings(max_examples=EXAMPLES[kind], deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        size=st.integers(3, 12),
        data=st.data(),
        attack=st.sampled_from(["flip", "delete", "swap", "flip-and-rehash"]),
    )
    def check(size: int, data: st.DataObject, attack: str) -> None:
        with fresh_database(kind, server) as url:
            ledger, _ = open_toy_ledger(url)
            with ledger:
                for index in range(size):
                    account = Account.open("p", f"t{index}")
                    account.note("n")
                    ledger.app.save(account)
            total = size * 2
            target = data.draw(st.integers(0, total - 2), label="position")
            entry = bytes(execute(url, "SELECT entry FROM ledger_log WHERE position = ?", (target,))[0][0])
            if attack.startswith("flip"):
                index = data.draw(st.integers(0, len(entry) - 1), label="byte")
                bit = data.draw(st.integers(0, 7), label="bit")
                flipped = bytearray(entry)
                flipped[index] ^= 1 << bit
                execute(url, "UPDATE ledger_log SET entry = ? WHERE position = ?", (bytes(flipped), target))
                if attack == "flip-and-rehash":
                    from proofs.hashing import leaf_hash

                    execute(
                        url,
                        "UPDATE ledger_log SET leaf_hash = ? WHERE position = ?",
                        (leaf_hash(bytes(flipped)), target),
                    )
            elif attack == "delete":
                execute(url, "DELETE FROM ledger_log WHERE position = ?", (target,))
            else:
                other = data.draw(st.integers(target + 1, total - 1), label="other")
                other_entry = bytes(execute(url, "SELECT entry FROM ledger_log WHERE position = ?", (other,))[0][0])
                execute(url, "UPDATE ledger_log SET entry = ? WHERE position = ?", (other_entry, target))
                execute(url, "UPDATE ledger_log SET entry = ? WHERE position = ?", (entry, other))
            ledger, _ = open_toy_ledger(url)
            with ledger, pytest.raises(ChainBroken) as caught:
                ledger.verify()
            # A flip that keeps the JSON valid but is re-hashed is only visible from the next entry's link
            # (or, for a flip inside ``prev`` itself, at the entry). Everything else breaks right here.
            if attack == "flip-and-rehash":
                assert caught.value.position in (target, target + 1)
            else:
                assert caught.value.position == target

    check()


@pytest.mark.skipif(os.name != "posix", reason="uses the installed console script")
def test_cli_verify_exit_codes(tmp_path: object) -> None:
    """``ledger verify`` exits 0 on an intact log and 1 naming the broken position, expected and found."""
    import base64
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    data_dir = Path(str(tmp_path))
    url = f"sqlite:///{data_dir / 'ledger.db'}"
    ledger, _ = open_toy_ledger(url)
    with ledger:
        ledger.app.save(*[Account.open("p", f"c{i}") for i in range(4)])
    cli = [sys.executable, "-m", "api", "verify", "--data-dir", str(data_dir)]
    env = {**os.environ, "LEDGER_MASTER_KEY": base64.b64encode(TOY_MASTER_KEY).decode()}  # the toy ledger's key
    intact = subprocess.run(cli, capture_output=True, text=True, check=False, env=env)
    assert intact.returncode == 0, intact.stderr
    assert json.loads(intact.stdout)["intact"] is True
    execute(url, "UPDATE ledger_log SET leaf_hash = ? WHERE position = 2", (b"\x00" * 32,))
    broken = subprocess.run(cli, capture_output=True, text=True, check=False, env=env)
    assert broken.returncode == 1
    report = json.loads(broken.stdout)
    assert (report["intact"], report["position"]) == (False, 2)
    assert report["found"] == "00" * 32
    assert len(report["expected"]) == 64
