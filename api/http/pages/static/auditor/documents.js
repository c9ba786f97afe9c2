// Proof documents (docs/proofs.md, "The proof document format"): inclusion proof, consistency proof, audit
// bundle and history proof, checked in the browser with verify.js, as proofs/documents.py does in Python.
import {
  EMPTY_ROOT_HEX, VerifyError, fromBase64, fromHex, leafHash, parseVkey, toHex, verifyCheckpoint,
  verifyConsistency, verifyInclusion,
} from "./verify.js";

export const INCLUSION = "proveniq-ledger/inclusion-proof/v1";
export const CONSISTENCY = "proveniq-ledger/consistency-proof/v1";
export const BUNDLES = ["proveniq-ledger/audit-bundle/v1", "proveniq-ledger/history-proof/v1"];
const noop = () => {};
const fail = (message) => { throw new VerifyError("malformed-document", message); };

function required(doc, key) {
  if (!(key in doc)) fail(`required field '${key}' is missing`);
  return doc[key];
}
function integer(doc, key) {
  const value = required(doc, key);
  if (!Number.isSafeInteger(value) || value < 0) fail(`'${key}' must be a non-negative integer`);
  return value;
}
function hash(value, what) {
  if (typeof value !== "string" || !/^[0-9a-f]{64}$/.test(value)) fail(`${what} must be 64 lowercase hex digits`);
  return fromHex(value);
}
function path(doc, key) {
  const value = required(doc, key);
  if (!Array.isArray(value)) fail(`'${key}' must be a list of hex hashes`);
  return value.map((item, i) => hash(item, `${key}[${i}]`));
}
function optionalText(doc, key) {
  if (doc[key] === undefined || doc[key] === null) return null;
  if (typeof doc[key] !== "string") fail(`'${key}' must be a string`);
  return doc[key];
}
function base64(text, what) {
  const bytes = typeof text === "string" ? fromBase64(text) : null;
  if (bytes === null) fail(`${what} must be standard base64`);
  return bytes;
}
function checkFormat(doc, expected) {
  if ("format" in doc && doc.format !== expected) fail(`format ${JSON.stringify(doc.format)} is not ${expected}`);
}

/** Parse any proof document (object or JSON text); a whole claim proof response yields its `proof`. */
export function readDocument(doc) {
  if (typeof doc === "string") {
    try { doc = JSON.parse(doc); } catch (error) { fail(`not JSON: ${error.message}`); }
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) fail("a proof document is a JSON object");
  if (!("format" in doc) && doc.proof && typeof doc.proof === "object" && "claimId" in doc) doc = doc.proof;
  return doc;
}

/** Verify a proof document against pinned verifier keys (strings); returns a report, throws VerifyError. */
export async function verifyDocument(input, vkeys, { checkpoints = [], entry = null } = {}, step = noop) {
  const doc = readDocument(input);
  const keys = await Promise.all(vkeys.map((vkey) => parseVkey(vkey)));
  if (BUNDLES.includes(doc.format)) return verifyBundle(doc, keys, step);
  const inclusion = doc.format === INCLUSION || (doc.format === undefined && "inclusionPath" in doc);
  const consistency = doc.format === CONSISTENCY || (doc.format === undefined && "consistencyPath" in doc);
  if (!inclusion && !consistency) fail(doc.format === undefined ? "required field 'format' is missing" : `unknown format ${doc.format}`);
  checkFormat(doc, inclusion ? INCLUSION : CONSISTENCY);
  if (!keys.length) throw new VerifyError("no-trusted-signature", "a proof is checked against a pinned verifier key");
  const carried = inclusion ? [optionalText(doc, "checkpoint")] : [optionalText(doc, "fromCheckpoint"), optionalText(doc, "toCheckpoint")];
  const heads = new Map();
  for (const note of new Set([...carried, ...checkpoints].filter((n) => n !== null))) {
    const head = await verifyCheckpoint(note, keys, step);
    heads.set(head.size, head);
  }
  const root = (size) => {
    if (size === 0) return fromHex(EMPTY_ROOT_HEX);
    const head = heads.get(BigInt(size));
    if (!head) fail(`no verified checkpoint of size ${size} was given`);
    return head.rootHash;
  };
  if (inclusion) {
    const key = "leafHash" in doc || !("hash" in doc) ? "leafHash" : "hash";
    const [index, size, leaf, hashes] = [integer(doc, "leafIndex"), integer(doc, "treeSize"), hash(required(doc, key), key), path(doc, "inclusionPath")];
    const bytes = entry ?? (optionalText(doc, "entry") === null ? null : base64(doc.entry, "entry"));
    if (bytes !== null) {
      const computed = await leafHash(bytes);
      step("entry bytes hash to leafHash", toHex(computed), toHex(computed) === toHex(leaf));
      if (toHex(computed) !== toHex(leaf)) throw new VerifyError("leaf-mismatch", `the entry hashes to ${toHex(computed)}, not to leafHash`);
    }
    if (doc.merkleRoot !== undefined && heads.has(BigInt(size)) && doc.merkleRoot !== toHex(root(size))) {
      throw new VerifyError("root-mismatch", `merkleRoot ${doc.merkleRoot} is not the signed root ${toHex(root(size))}`);
    }
    await verifyInclusion(leaf, index, size, hashes, root(size), step);
    return { format: INCLUSION, treeSize: size, entries: 1, pinned: true, checkpoints: [...heads.values()] };
  }
  const [from, to, hashes] = [integer(doc, "fromSize"), integer(doc, "toSize"), path(doc, "consistencyPath")];
  await verifyConsistency(from, to, root(from), root(to), hashes, step);
  return { format: CONSISTENCY, treeSize: to, entries: 0, pinned: true, checkpoints: [...heads.values()] };
}

/** An audit bundle or history proof: the checkpoint, then each entry's leaf hash and inclusion proof. */
async function verifyBundle(doc, pinned, step) {
  const [size, note, vkey] = [integer(doc, "treeSize"), required(doc, "checkpoint"), required(doc, "vkey")];
  if (!Array.isArray(required(doc, "entries"))) fail("'entries' must be a list");
  if (typeof note !== "string" || typeof vkey !== "string") fail("'checkpoint' and 'vkey' must be strings");
  const entries = doc.entries.map((item, i) => {
    if (item === null || typeof item !== "object") fail(`entries[${i}] must be an object`);
    const stated = hash(required(item, "leafHash"), "leafHash");
    return { index: integer(item, "leafIndex"), bytes: base64(required(item, "entry"), `entries[${i}].entry`), stated, path: path(item, "inclusionPath") };
  });
  const own = await parseVkey(vkey);
  let head = await verifyCheckpoint(note, [own], step);
  if (pinned.length) head = await verifyCheckpoint(note, pinned, step);
  else step("pinned key", "none pinned: the bundle only agrees with its own vkey", false);
  if (BigInt(size) !== head.size) fail(`treeSize: bundle says ${size}, checkpoint says ${head.size}`);
  let previous = -1;
  for (const [i, item] of entries.entries()) {
    if (item.index <= previous) fail(`entry ${i}: leaf indexes must be strictly increasing`);
    previous = item.index;
    const computed = await leafHash(item.bytes);
    if (toHex(computed) !== toHex(item.stated)) throw new VerifyError("leaf-mismatch", `entry ${i} (leafIndex ${item.index}): entry bytes hash to ${toHex(computed)}, bundle says ${toHex(item.stated)}`);
    await verifyInclusion(computed, item.index, head.size, item.path, head.rootHash, (label, detail, ok) => step(`entry ${i} (leaf ${item.index}): ${label}`, detail, ok));
  }
  return { format: doc.format, treeSize: size, entries: entries.length, pinned: pinned.length > 0, checkpoints: [head] };
}
