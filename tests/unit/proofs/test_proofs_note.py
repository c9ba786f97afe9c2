"""C2SP signed notes and keys (proofs.note), byte-compatible with Go's golang.org/x/mod/sumdb/note."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from proofs import (
    MalformedKey,
    MalformedNote,
    NoteSigner,
    NoteVerifier,
    SignatureInvalid,
    UnverifiedNote,
    format_skey,
    generate_signer,
    key_hash,
    open_note,
    parse_skey,
    parse_vkey,
    private_key_from_bytes,
    private_key_to_pem,
    private_key_to_raw,
    public_key_from_bytes,
    public_key_to_pem,
    public_key_to_raw,
    sign_note,
    vkey_from_public_key,
)


@pytest.fixture
def go(note_vectors: Any) -> Any:
    return note_vectors["go_note"]


def test_go_signer_key_reproduces_go_signed_note(go: Any) -> None:
    """The PeterNeumann signer key signs Go's example text to exactly Go's signed note."""
    signer = parse_skey(go["skey"])
    assert signer.name == go["name"]
    assert signer.key_hash.hex() == go["key_hash"]
    assert sign_note(go["text"], signer) == go["signed_note"]
    assert format_skey(signer) == go["skey"]
    assert signer.verifier().vkey == go["vkey"]


def test_go_verifier_key_opens_go_note(go: Any) -> None:
    """Go's verifier key parses and verifies Go's signed note, returning its text."""
    verifier = parse_vkey(go["vkey"])
    assert vkey_from_public_key(verifier.name, verifier.public_key) == go["vkey"]
    assert open_note(go["signed_note"], [verifier]) == (go["text"], ["PeterNeumann"])
    assert open_note(go["signed_note"].encode("utf-8"), [verifier]) == (go["text"], ["PeterNeumann"])


def test_key_hash_follows_the_spec(go: Any) -> None:
    """key_hash is SHA-256(name || 0x0A || 0x01 || public key)[:4] (Go's keyHash)."""
    verifier = parse_vkey(go["vkey"])
    assert key_hash(go["name"], public_key_to_raw(verifier.public_key)).hex() == go["key_hash"]


def test_transparency_dev_key_pairs_agree(note_vectors: Any) -> None:
    """Every published signer key derives exactly its published verifier key."""
    for pair in note_vectors["go_formats_keys"]:
        signer = parse_skey(pair["skey"])
        assert signer.verifier().vkey == pair["vkey"]
        assert parse_vkey(pair["vkey"]) == signer.verifier()


def test_unknown_signatures_are_ignored(go: Any) -> None:
    """With only Peter's key known, Enoch's signature is skipped and Peter's verifies (Go TestOpen)."""
    note = go["text"] + "\n" + go["peter_sig_line"] + go["enoch_sig_line"]
    assert open_note(note, [parse_vkey(go["vkey"])]) == (go["text"], ["PeterNeumann"])
    both = [parse_vkey(go["vkey"]), parse_vkey(go["enoch_vkey"])]
    assert open_note(note, both) == (go["text"], ["PeterNeumann", "EnochRoot"])


def test_note_without_known_signature_is_rejected(go: Any) -> None:
    """No signature from a known key: UnverifiedNote listing the signers found."""
    note = go["text"] + "\n" + go["peter_sig_line"] + go["enoch_sig_line"]
    with pytest.raises(UnverifiedNote) as err:
        open_note(note, [])
    assert err.value.signers == ("PeterNeumann+c74f20a3", "EnochRoot+af0cfe78")


def test_same_name_other_key_is_unknown(go: Any) -> None:
    """A known name with another key hash is an unknown key, never verified against the known one."""
    impostor = generate_signer("PeterNeumann")
    forged = sign_note(go["text"], impostor)
    with pytest.raises(UnverifiedNote):
        open_note(forged, [parse_vkey(go["vkey"])])


def test_invalid_signature_from_known_key_rejects_note(go: Any) -> None:
    """A corrupted signature by a known key raises SignatureInvalid naming the key (Go TestOpen)."""
    sig = go["peter_sig_line"]
    note = go["text"] + "\n" + sig[:60] + "ABCD" + sig[60:]
    with pytest.raises(SignatureInvalid) as err:
        open_note(note, [parse_vkey(go["vkey"])])
    assert err.value.key_name == "PeterNeumann"


def test_repeated_signatures_are_checked_once(go: Any) -> None:
    """Duplicate verified and unverified signature lines are tolerated, as in Go."""
    sig, enoch = go["peter_sig_line"], go["enoch_sig_line"]
    enoch_bad = enoch[:60] + "ABCD" + enoch[60:]
    note = go["text"] + "\n" + sig + sig + enoch + enoch + enoch_bad
    assert open_note(note, [parse_vkey(go["vkey"])]) == (go["text"], ["PeterNeumann"])


def test_too_many_signatures_is_malformed(go: Any) -> None:
    """More than 100 signature lines is a malformed note, known key or not."""
    note = go["text"] + "\n" + go["peter_sig_line"] * 101
    for verifiers in ([parse_vkey(go["vkey"])], []):
        with pytest.raises(MalformedNote):
            open_note(note, verifiers)


def test_go_malformed_notes_are_rejected(go: Any) -> None:
    """Go's invalid encodings (no blank line, bad name, junk line, control char, bad UTF-8) are MalformedNote."""
    text, sig = go["text"], go["peter_sig_line"]
    bad: list[str | bytes] = [
        text,
        text + "\n",
        text + "\n" + sig[:-1],
        "\x01" + text + "\n" + sig,
        b"\xff" + (text + "\n" + sig).encode(),
        text + "\n" + sig.replace("PeterNeumann", "Bad Name"),
        text + "\n" + sig + "Unexpected line.\n",
        text + "\n" + sig.replace("\u2014", "-"),
        text + "\n" + "\u2014 PeterNeumann\n",
        text + "\n" + "\u2014 PeterNeumann AAAA\n",
        text + "\n" + sig.replace("=\n", "\n"),
        "surrogate \ud800\n\n" + sig,
    ]
    for note in bad:
        with pytest.raises(MalformedNote):
            open_note(note, [parse_vkey(go["vkey"])])


def test_tampering_is_detected(go: Any) -> None:
    """Changing the text or the signature fails; renaming or rehashing the key makes it unknown."""
    verifiers = [parse_vkey(go["vkey"])]
    note = go["signed_note"]
    with pytest.raises(SignatureInvalid):
        open_note(note.replace("problem,", "problem;"), verifiers)
    with pytest.raises(SignatureInvalid):
        open_note(note.replace("BwJnAM=", "BwJnAA="), verifiers)
    with pytest.raises(UnverifiedNote):
        open_note(note.replace("PeterNeumann", "CarmenSandiego"), verifiers)
    with pytest.raises(UnverifiedNote):
        open_note(note.replace("x08g", "xxxx"), verifiers)


def _manglings(key: str) -> list[str]:
    """Every proper substring and every one-character increment of `key` (Go TestNewVerifier)."""
    out = [key[i:j] for i in range(len(key) + 1) for j in range(i + 1, len(key) + 1) if (i, j) != (0, len(key))]
    out += [key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :] for i in range(len(key))]
    return out


def test_mangled_verifier_keys_are_rejected(go: Any) -> None:
    """No substring or one-character change of a valid vkey parses, nor Go's bad vkeys."""
    for mangled in [*_manglings(go["vkey"]), *go["bad_vkeys"].values()]:
        with pytest.raises(MalformedKey):
            parse_vkey(mangled)


def test_mangled_signer_keys_are_rejected(go: Any) -> None:
    """No substring or one-character change of a valid signer key parses (Go TestNewSigner)."""
    for mangled in _manglings(go["skey"]):
        with pytest.raises(MalformedKey):
            parse_skey(mangled)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\tname", "nbsp\u00a0name", "line\nname", "\ud800"])
def test_invalid_key_names_are_rejected(name: str) -> None:
    """Key names must be non-empty UTF-8 without Unicode spaces or '+'."""
    key = Ed25519PrivateKey.generate()
    with pytest.raises(MalformedKey):
        NoteSigner(name, key)
    with pytest.raises(MalformedKey):
        vkey_from_public_key(name, key.public_key())


def test_verifier_rejects_mismatched_key_hash() -> None:
    """A NoteVerifier whose key hash does not match its name and key cannot be built."""
    signer = generate_signer("example.com/log")
    with pytest.raises(MalformedKey):
        NoteVerifier("example.com/log", b"\x00\x00\x00\x00", signer.public_key)
    with pytest.raises(MalformedKey):
        vkey_from_public_key("example.com/log", b"\x00" * 31)


def test_generated_signer_round_trips() -> None:
    """A generated key signs notes its vkey verifies, with several signers, and hides the key in repr."""
    log, witness = generate_signer("example.com/log"), generate_signer("example.com/witness")
    note = sign_note("hello\n\nworld\n", log, witness)
    assert open_note(note, [parse_vkey(log.verifier().vkey), witness.verifier()]) == (
        "hello\n\nworld\n",
        ["example.com/log", "example.com/witness"],
    )
    assert private_key_to_raw(log.private_key).hex() not in repr(log)
    assert parse_skey(format_skey(log)) == log


def test_sign_note_rejects_bad_text() -> None:
    """The text must end in a newline and hold no control characters; at least one signer is needed."""
    signer = generate_signer("example.com/log")
    with pytest.raises(MalformedNote):
        sign_note("no newline", signer)
    with pytest.raises(MalformedNote):
        sign_note("bell\x07\n", signer)
    with pytest.raises(MalformedNote):
        sign_note("surrogate \ud800\n", signer)
    with pytest.raises(ValueError, match="signer"):
        sign_note("text\n")


def test_ambiguous_verifiers_are_refused(go: Any) -> None:
    """Two different keys under one (name, key hash) are refused rather than guessed between."""
    genuine = parse_vkey(go["vkey"])
    twin = NoteVerifier(genuine.name, genuine.key_hash, genuine.public_key)
    object.__setattr__(twin, "public_key", Ed25519PrivateKey.generate().public_key())  # forge a collision
    with pytest.raises(MalformedKey):
        open_note(go["signed_note"], [genuine, twin])
    assert open_note(go["signed_note"], [genuine, genuine])[1] == ["PeterNeumann"]


def test_private_key_pem_and_raw_round_trip() -> None:
    """Private keys round-trip through PKCS#8 PEM (plain or encrypted) and raw 32-byte seeds."""
    key = Ed25519PrivateKey.generate()
    raw = private_key_to_raw(key)
    assert len(raw) == 32
    assert private_key_to_raw(private_key_from_bytes(raw)) == raw
    assert private_key_to_raw(private_key_from_bytes(private_key_to_pem(key))) == raw
    encrypted = private_key_to_pem(key, password=b"correct horse")
    assert b"ENCRYPTED" in encrypted
    assert private_key_to_raw(private_key_from_bytes(encrypted, password=b"correct horse")) == raw
    with pytest.raises(MalformedKey):
        private_key_from_bytes(encrypted, password=b"wrong")


def test_public_key_pem_and_raw_round_trip() -> None:
    """Public keys round-trip through SubjectPublicKeyInfo PEM and raw 32 bytes."""
    public = Ed25519PrivateKey.generate().public_key()
    raw = public_key_to_raw(public)
    assert public_key_to_raw(public_key_from_bytes(raw)) == raw
    assert public_key_to_raw(public_key_from_bytes(public_key_to_pem(public))) == raw


def test_unusable_key_bytes_are_rejected() -> None:
    """Wrong lengths, garbage PEM and non-Ed25519 keys raise MalformedKey."""
    other = ec.generate_private_key(ec.SECP256R1())
    other_private = other.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    other_public = other.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    for data in (b"", b"\x00" * 31, b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n"):
        with pytest.raises(MalformedKey):
            private_key_from_bytes(data)
        with pytest.raises(MalformedKey):
            public_key_from_bytes(data)
    with pytest.raises(MalformedKey):
        private_key_from_bytes(other_private)
    with pytest.raises(MalformedKey):
        public_key_from_bytes(other_public)
    with pytest.raises(MalformedKey):
        private_key_from_bytes(b"\x00" * 32, password=b"pw")
