// Independent verifier of Proveniq Ledger proofs, for the auditor console. No dependencies: WebCrypto only.
// RFC 9162 section 2.1.1 (hashing), 2.1.3.2 (inclusion), 2.1.4.2 (consistency); C2SP signed-note (Ed25519),
// tlog-checkpoint and tlog-cosignature/v1; the proof document format of docs/proofs.md. Written from the
// specifications, not from the Python code; tests/data/auditor_vectors.json checks both agree.
// Every check throws a VerifyError {code, message}; `step(label, detail, ok)` callbacks report progress.
const subtle = globalThis.crypto.subtle;
const utf8 = new TextEncoder();
const SIG_PREFIX = "\u2014 ";
const ALG_ED25519 = 1, ALG_COSIGNATURE = 4;
const noop = () => {};
export const EMPTY_ROOT_HEX = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

export class VerifyError extends Error {
  constructor(code, message) { super(message); this.name = "VerifyError"; this.code = code; }
}
const fail = (code, message) => { throw new VerifyError(code, message); };

export const toHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
export function fromHex(text, what = "hash") {
  if (typeof text !== "string" || !/^([0-9a-f]{2})*$/.test(text)) fail("malformed-document", `${what} must be lowercase hex`);
  return Uint8Array.from(text.match(/../g) || [], (h) => parseInt(h, 16));
}
export const toBase64 = (b) => {
  let text = ""; // in chunks: a spread of a large entry would exceed the arguments limit
  for (let i = 0; i < b.length; i += 0x8000) text += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(text);
};
/** Standard base64 (RFC 4648 section 4), canonical encoding only; null when invalid. */
export function fromBase64(text) {
  if (typeof text !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4) return null;
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  return toBase64(bytes) === text ? bytes : null;
}
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
};
export const sha256 = async (...parts) => new Uint8Array(await subtle.digest("SHA-256", concat(...parts)));
/** RFC 9162 2.1.1: leaf hash SHA-256(0x00 || entry), node hash SHA-256(0x01 || left || right). */
export const leafHash = (entry) => sha256(Uint8Array.of(0), entry);
export const nodeHash = (left, right) => sha256(Uint8Array.of(1), left, right);

const bitLength = (n) => (n === 0n ? 0 : n.toString(2).length);
const popCount = (n) => [...n.toString(2)].filter((c) => c === "1").length;
const big = (n, what) => {
  if (typeof n === "bigint") return n;
  if (!Number.isSafeInteger(n) || n < 0) fail("malformed-document", `${what} must be a non-negative integer`);
  return BigInt(n);
};
function checkHash(h, what) {
  if (!(h instanceof Uint8Array) || h.length !== 32) fail("malformed-proof", `${what} must be 32 bytes`);
}
function checkPath(path, expected, what) {
  if (BigInt(path.length) !== expected) fail("malformed-proof", `${what} must have ${expected} hashes, got ${path.length}`);
  path.forEach((h, i) => checkHash(h, `${what}[${i}]`));
}
export function inclusionPathLength(index, size) {
  const inner = bitLength(index ^ (size - 1n));
  return BigInt(inner + popCount(index >> BigInt(inner)));
}
export function consistencyPathLength(m, n) {
  const inner = BigInt(bitLength((m - 1n) ^ (n - 1n)));
  const shift = BigInt(bitLength(m & -m) - 1);
  const length = inner - shift + BigInt(popCount((m - 1n) >> inner));
  return m === 1n << shift ? length : length + 1n;
}

/** RFC 9162 2.1.3.2: the leaf `leaf` is entry `index` of the tree (`size`, `root`). */
export async function verifyInclusion(leaf, index, size, path, root, step = noop) {
  [index, size] = [big(index, "leafIndex"), big(size, "treeSize")];
  checkHash(root, "root");
  if (!(index < size)) fail("invalid-argument", `leaf index ${index} is not below tree size ${size}`);
  checkHash(leaf, "leaf hash");
  checkPath(path, inclusionPathLength(index, size), "inclusion path");
  let [fn, sn, r] = [index, size - 1n, leaf];
  step("leaf hash", toHex(r));
  for (const [i, p] of path.entries()) {
    const left = Boolean(fn & 1n) || fn === sn;
    r = left ? await nodeHash(p, r) : await nodeHash(r, p);
    if (left) while (fn && !(fn & 1n)) [fn, sn] = [fn >> 1n, sn >> 1n];
    step(`path step ${i + 1}`, `${left ? "sibling on the left" : "sibling on the right"} ${toHex(p)} -> ${toHex(r)}`);
    [fn, sn] = [fn >> 1n, sn >> 1n];
  }
  if (sn !== 0n) fail("malformed-proof", "inclusion path is shorter than the tree is high");
  const match = equal(r, root);
  step("computed root vs checkpoint root", `${toHex(r)} ${match ? "==" : "!="} ${toHex(root)}`, match);
  if (!match) fail("root-mismatch", `the path leads to root ${toHex(r)}, the checkpoint says ${toHex(root)}`);
}

/** RFC 9162 2.1.4.2: the tree (`n`, `newRoot`) extends the tree (`m`, `oldRoot`). */
export async function verifyConsistency(m, n, oldRoot, newRoot, path, step = noop) {
  [m, n] = [big(m, "fromSize"), big(n, "toSize")];
  if (m > n) fail("invalid-argument", `tree sizes ${m} > ${n}`);
  checkHash(oldRoot, "old root");
  checkHash(newRoot, "new root");
  const rootsMustMatch = (a, b, what) => {
    if (!equal(a, b)) fail("root-mismatch", `${what}: ${toHex(a)} != ${toHex(b)}`);
  };
  if (m === 0n || m === n) {
    checkPath(path, 0n, "consistency path");
    if (m === 0n) rootsMustMatch(oldRoot, fromHex(EMPTY_ROOT_HEX), "the empty tree's root");
    if (m === 0n && n === 0n) rootsMustMatch(newRoot, fromHex(EMPTY_ROOT_HEX), "the empty tree's root");
    if (m === n && m > 0n) rootsMustMatch(oldRoot, newRoot, "same size, different roots");
    step("trivial proof", m === 0n ? "growth from the empty tree" : "same tree size, same root", true);
    return;
  }
  if (path.length === 0) fail("malformed-proof", "consistency path is empty");
  checkPath(path, consistencyPathLength(m, n), "consistency path");
  const hashes = (m & (m - 1n)) === 0n ? [oldRoot, ...path] : [...path];
  let [fn, sn] = [m - 1n, n - 1n];
  while (fn & 1n) [fn, sn] = [fn >> 1n, sn >> 1n];
  let fr = hashes[0], sr = hashes[0];
  step("start", `${hashes.length > path.length ? "old root (a perfect subtree)" : "first path hash"} ${toHex(fr)}`);
  for (const [i, c] of hashes.slice(1).entries()) {
    if (sn === 0n) fail("malformed-proof", "consistency path is longer than the tree is high");
    if ((fn & 1n) || fn === sn) {
      [fr, sr] = [await nodeHash(c, fr), await nodeHash(c, sr)];
      while (fn && !(fn & 1n)) [fn, sn] = [fn >> 1n, sn >> 1n];
    } else sr = await nodeHash(sr, c);
    step(`path step ${i + 1}`, `${toHex(c)} -> old ${toHex(fr)}, new ${toHex(sr)}`);
    [fn, sn] = [fn >> 1n, sn >> 1n];
  }
  if (sn !== 0n) fail("malformed-proof", "consistency path is shorter than the tree is high");
  const okOld = equal(fr, oldRoot), okNew = equal(sr, newRoot);
  step("computed old root vs old checkpoint", `${toHex(fr)} ${okOld ? "==" : "!="} ${toHex(oldRoot)}`, okOld);
  if (!okOld) fail("root-mismatch", `the proof leads to old root ${toHex(fr)}, the old checkpoint says ${toHex(oldRoot)}`);
  step("computed new root vs new checkpoint", `${toHex(sr)} ${okNew ? "==" : "!="} ${toHex(newRoot)}`, okNew);
  if (!okNew) fail("root-mismatch", `the proof leads to new root ${toHex(sr)}, the new checkpoint says ${toHex(newRoot)}`);
}

const controlChars = (text) => /[\u0000-\u0009\u000b-\u001f]/.test(text);
const splitOnce = (text, sep) => (text.includes(sep) ? [text.slice(0, text.indexOf(sep)), text.slice(text.indexOf(sep) + 1)] : [text, ""]);
const validName = (name) => Boolean(name) && !name.includes("+") && !/\s/.test(name) && !controlChars(name);

/** A C2SP verifier key `name+hash+base64(alg || key)`: Ed25519 (0x01) or cosignature/v1 (0x04). */
export async function parseVkey(vkey) {
  const [name, hash, data, ...rest] = String(vkey).trim().split("+");
  if (data === undefined) fail("malformed-key", "a verifier key is name+hash+key");
  const key = fromBase64([data, ...rest].join("+"));
  if (!validName(name)) fail("malformed-key", `invalid key name ${JSON.stringify(name)}`);
  if (!/^[0-9a-fA-F]{8}$/.test(hash)) fail("malformed-key", "key hash must be 8 hex digits");
  if (!key || key.length === 0) fail("malformed-key", "key data is not canonical base64");
  if (key[0] !== ALG_ED25519 && key[0] !== ALG_COSIGNATURE) fail("malformed-key", `unknown key algorithm ${key[0]}`);
  if (key.length !== 33) fail("malformed-key", `key must be 32 bytes, got ${key.length - 1}`);
  const computed = (await sha256(utf8.encode(name + "\n"), key)).slice(0, 4);
  if (toHex(computed) !== hash.toLowerCase()) fail("malformed-key", `key hash ${hash} does not match name and key`);
  const publicKey = await subtle.importKey("raw", key.slice(1), { name: "Ed25519" }, false, ["verify"]);
  return { name, keyHash: toHex(computed), alg: key[0], publicKey, vkey: String(vkey).trim() };
}

/** Split a signed note into its text (signed bytes) and signature lines (c2sp.org/signed-note). */
export function parseNote(note) {
  if (typeof note !== "string" || controlChars(note)) fail("malformed-note", "a note is text without control characters");
  const split = note.lastIndexOf("\n\n");
  if (split < 0) fail("malformed-note", "no blank line before the signatures");
  const [text, block] = [note.slice(0, split + 1), note.slice(split + 2)];
  if (!block.endsWith("\n")) fail("malformed-note", "signature block must be non-empty and end with a newline");
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > 100) fail("malformed-note", "more than 100 signatures");
  const signatures = lines.map((line) => {
    if (!line.startsWith(SIG_PREFIX)) fail("malformed-note", "signature line must start with an em dash and a space");
    const [name, b64] = splitOnce(line.slice(SIG_PREFIX.length), " ");
    const blob = b64 ? fromBase64(b64) : null;
    if (!blob || !validName(name) || blob.length < 5) fail("malformed-note", `malformed signature line ${line.slice(0, 60)}`);
    return { name, keyHash: toHex(blob.slice(0, 4)), blob };
  });
  return { text, signatures };
}

/** Verify a signed note with Ed25519 keys (Go's note.Open): returns {text, verified, others}. */
export async function openNote(note, keys, step = noop) {
  const { text, signatures } = parseNote(note);
  const message = utf8.encode(text), verified = [], others = [], seen = new Set();
  for (const sig of signatures) {
    const slot = `${sig.name}+${sig.keyHash}`;
    const key = keys.find((k) => k.alg === ALG_ED25519 && k.name === sig.name && k.keyHash === sig.keyHash);
    if (!key) { others.push(sig); continue; }
    if (seen.has(slot)) continue;
    seen.add(slot);
    const ok = await subtle.verify({ name: "Ed25519" }, key.publicKey, sig.blob.slice(4), message);
    step(`signature by ${slot}`, ok ? "Ed25519 signature verifies" : "Ed25519 signature does NOT verify", ok);
    if (!ok) fail("bad-signature", `the signature by ${slot} does not verify: the note was altered or forged`);
    verified.push(slot);
  }
  if (!verified.length) {
    const names = signatures.map((s) => `${s.name}+${s.keyHash}`).join(", ");
    fail("no-trusted-signature", `no signature by the pinned key (signed by: ${names})`);
  }
  return { text, verified, others };
}

/** The c2sp.org/tlog-checkpoint body: origin, size, base64 root hash, extension lines. */
export function parseCheckpoint(text) {
  if (!text.endsWith("\n") || controlChars(text)) fail("malformed-checkpoint", "body must end with a newline");
  const [origin, size, root, ...extensions] = text.slice(0, -1).split("\n");
  if (root === undefined || !origin) fail("malformed-checkpoint", "body needs origin, size and root hash lines");
  if (!/^(0|[1-9][0-9]{0,19})$/.test(size) || BigInt(size) >= 2n ** 64n) fail("malformed-checkpoint", "bad tree size");
  const rootHash = fromBase64(root);
  if (!rootHash || rootHash.length !== 32) fail("malformed-checkpoint", "root hash must be base64 of 32 bytes");
  if (extensions.some((line) => !line)) fail("malformed-checkpoint", "extension lines must be non-empty");
  return { origin, size: BigInt(size), rootHash, extensions };
}

/** Open a signed checkpoint with the pinned keys; also check cosignatures by pinned witness keys (0x04). */
export async function verifyCheckpoint(note, keys, step = noop) {
  const { text, verified, others } = await openNote(note, keys, step);
  const checkpoint = parseCheckpoint(text);
  step("checkpoint", `origin ${checkpoint.origin}, size ${checkpoint.size}, root ${toHex(checkpoint.rootHash)}`, true);
  const cosignatures = [];
  for (const sig of others) {
    const witness = keys.find((k) => k.alg === ALG_COSIGNATURE && k.name === sig.name && k.keyHash === sig.keyHash);
    const time = sig.blob.length === 76 ? new DataView(sig.blob.buffer).getBigUint64(4) : null;
    let ok = null;
    if (witness && (time === null || time >= 2n ** 63n)) fail("bad-signature", `the cosignature by ${sig.name} is malformed`);
    if (witness) {
      const message = utf8.encode(`cosignature/v1\ntime ${time}\n${text}`);
      ok = await subtle.verify({ name: "Ed25519" }, witness.publicKey, sig.blob.slice(12), message);
      if (!ok) fail("bad-signature", `the cosignature by ${sig.name} does not verify`);
    }
    cosignatures.push({ name: sig.name, keyHash: sig.keyHash, time, verified: ok });
    step(`other signature by ${sig.name}+${sig.keyHash}`, ok ? `cosigned at ${time}, verified` : "not pinned: shown, not checked", ok);
  }
  return { ...checkpoint, verified, cosignatures, note };
}
