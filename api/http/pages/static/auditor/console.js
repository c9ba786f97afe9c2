// The auditor console's page logic: reads the forms, calls verify.js / documents.js, shows every step.
// Remembers the pinned keys and, per log (checkpoint origin + signing key), the last verified checkpoint
// in localStorage; a newer checkpoint must be consistent with it (split-view detection).
import { VerifyError, fromHex, parseVkey, toHex, verifyCheckpoint, verifyConsistency, verifyInclusion } from "./verify.js";
import { verifyDocument } from "./documents.js";

const LOG = document.getElementById("auditor-script").dataset.log;
const STORE = "proveniq-auditor";
const MAX_STEPS = 400;
const TITLES = {
  "root-mismatch": "Root mismatch",
  "bad-signature": "Bad signature",
  "no-trusted-signature": "Not signed by the pinned key",
  "leaf-mismatch": "Entry does not match its leaf hash",
  "malformed-proof": "Malformed proof",
  "malformed-note": "Malformed signed note",
  "malformed-checkpoint": "Malformed checkpoint",
  "malformed-key": "Malformed verifier key",
  "malformed-document": "Malformed document",
  "invalid-argument": "Impossible proof arguments",
  "fetch": "Could not fetch",
};
const $ = (id) => document.getElementById(id);
let current = null; // the checkpoint verified in section 2

class FetchError extends VerifyError {
  constructor(message) { super("fetch", message); }
}
async function fetchFromLog(path, as = "text") {
  const response = await fetch(`${LOG}${path}`, { headers: { Accept: as === "json" ? "application/json" : "text/plain" } });
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    throw new FetchError(body?.error?.message ?? `${path} answered ${response.status}`);
  }
  return as === "json" ? response.json() : response.text();
}

/** A step list and result box: `step` appends, `done` / `failed` write the verdict. */
function reporter(name) {
  const [list, result] = [$(`${name}-steps`), $(`${name}-result`)];
  list.replaceChildren();
  result.replaceChildren();
  result.className = "result";
  let count = 0;
  const step = (label, detail, ok) => {
    count += 1;
    if (count > MAX_STEPS) {
      if (count === MAX_STEPS + 1) list.append(Object.assign(document.createElement("li"), { textContent: "… (more steps not shown)" }));
      return;
    }
    const item = document.createElement("li");
    item.className = ok === true ? "ok" : ok === false ? "failed" : "";
    const mark = Object.assign(document.createElement("span"), { className: "mark", textContent: ok === true ? "✓ OK" : ok === false ? "✗ FAILED" : "•" });
    const title = Object.assign(document.createElement("strong"), { textContent: label });
    const code = Object.assign(document.createElement("code"), { textContent: detail });
    item.append(mark, " ", title, ": ", code);
    list.append(item);
  };
  const verdict = (ok, text) => {
    result.className = `result ${ok ? "ok" : "error"}`;
    result.textContent = `${ok ? "Verified" : "Rejected"}: ${text}`;
  };
  return {
    step,
    done: (text) => verdict(true, text),
    failed: (error) => verdict(false, error instanceof VerifyError ? `${TITLES[error.code] ?? error.code}. ${error.message}` : `${error.message ?? error}`),
  };
}

async function pinnedKeys() {
  const lines = $("vkeys").value.split("\n").map((line) => line.trim()).filter(Boolean);
  if (!lines.length) throw new VerifyError("malformed-key", "pin the log's verifier key first (section 1)");
  return Promise.all(lines.map((line) => parseVkey(line)));
}

async function pin() {
  const status = $("pinned");
  try {
    const keys = await pinnedKeys();
    localStorage.setItem(`${STORE}/vkeys`, keys.map((k) => k.vkey).join("\n"));
    status.className = "ok";
    status.textContent = `Pinned: ${keys.map((k) => `${k.name}+${k.keyHash}${k.alg === 4 ? " (witness)" : ""}`).join(", ")}`;
  } catch (error) {
    status.className = "error";
    status.textContent = `Not pinned: ${error.message}`;
  }
}

async function showServerKey() {
  const status = $("pinned");
  try {
    const keys = (await fetchFromLog("/public-key")).trim().split("\n");
    status.className = "";
    status.textContent = `This server says its current key is ${keys[0]}. Compare it with the key you obtained out of band before pinning it.`;
  } catch (error) {
    status.className = "error";
    status.textContent = error.message;
  }
}

const logKey = (cp) => `${STORE}/last/${cp.origin}/${cp.verified[0]}`;
const remembered = (cp) => JSON.parse(localStorage.getItem(logKey(cp)) ?? "null");
function remember(cp) {
  localStorage.setItem(logKey(cp), JSON.stringify({ size: String(cp.size), root: toHex(cp.rootHash), note: cp.note }));
  $("remembered").textContent = `Remembered for ${cp.origin}: tree size ${cp.size}, root ${toHex(cp.rootHash)}.`;
}
function alarm(text) {
  const box = $("split-view");
  box.hidden = false;
  box.replaceChildren(Object.assign(document.createElement("h2"), { textContent: "Warning: this log shows two different histories" }),
    Object.assign(document.createElement("p"), { textContent: text }));
  box.scrollIntoView({ block: "start" });
  return " WARNING: it contradicts the checkpoint remembered for this log (see the alert at the top).";
}

/** Split view: the new checkpoint against the one remembered for its log (consistency or equal roots). */
async function compareWithRemembered(cp, step) {
  const last = remembered(cp);
  if (last === null) return remember(cp);
  const lastSize = BigInt(last.size);
  if (lastSize === cp.size) {
    if (last.root === toHex(cp.rootHash)) return step("remembered checkpoint", `same size ${cp.size}, same root`, true);
    step("remembered checkpoint", `size ${cp.size}: remembered root ${last.root}, this one ${toHex(cp.rootHash)}`, false);
    return alarm(`Two checkpoints of tree size ${cp.size} with different roots (${last.root} remembered, ${toHex(cp.rootHash)} now), both signed by the pinned key. The log is equivocating (a split view): keep both notes as evidence.`);
  }
  const [older, newer] = lastSize < cp.size ? [{ size: lastSize, root: fromHex(last.root) }, cp] : [cp, { size: lastSize, root: fromHex(last.root) }];
  const newerRoot = newer.rootHash ?? newer.root, olderRoot = older.rootHash ?? older.root;
  let proof;
  try {
    proof = await fetchFromLog(`/consistency?from=${older.size}&to=${newer.size}`, "json");
  } catch (error) {
    step("consistency with the remembered checkpoint", `not checked: ${error.message}`, false);
    return ` Not remembered: its consistency with the remembered checkpoint of size ${lastSize} could not be checked (${error.message}).`;
  }
  try {
    const path = proof.consistencyPath.map((h) => fromHex(h));
    await verifyConsistency(older.size, newer.size, olderRoot, newerRoot, path, (l, d, ok) => step(`consistency ${older.size} → ${newer.size}: ${l}`, d, ok));
  } catch (error) {
    return alarm(`The checkpoint of size ${cp.size} is not consistent with the remembered checkpoint of size ${lastSize}: ${error.message}. The log has rewritten its history or shows different histories to different people (a split view): keep both notes as evidence.`);
  }
  if (cp.size > lastSize) remember(cp);
  return null;
}

async function verifyCheckpointForm() {
  const report = reporter("checkpoint");
  try {
    const cp = await verifyCheckpoint($("checkpoint").value, await pinnedKeys(), report.step);
    current = cp;
    const unchecked = (await compareWithRemembered(cp, report.step)) ?? "";
    report.done(`checkpoint of ${cp.origin} at tree size ${cp.size}, root ${toHex(cp.rootHash)}, signed by ${cp.verified.join(", ")}.${unchecked}`);
  } catch (error) {
    current = null;
    report.failed(error);
  }
}

function needCheckpoint() {
  if (!current) throw new VerifyError("malformed-checkpoint", "verify a checkpoint first (section 2)");
  return current;
}

async function verifyInclusionForm() {
  const report = reporter("inclusion");
  try {
    const cp = needCheckpoint();
    const index = Number($("leaf-index").value.trim());
    if (!Number.isSafeInteger(index) || $("leaf-index").value.trim() === "") throw new VerifyError("invalid-argument", "the leaf index is a whole number");
    const path = $("inclusion-path").value.split(/\s+/).filter(Boolean).map((h) => fromHex(h.toLowerCase(), "path hash"));
    await verifyInclusion(fromHex($("leaf-hash").value.trim().toLowerCase(), "leaf hash"), index, cp.size, path, cp.rootHash, report.step);
    report.done(`leaf ${index} is in the tree of ${cp.size} entries whose root the checkpoint signs.`);
  } catch (error) {
    report.failed(error);
  }
}

async function verifyConsistencyForm() {
  const report = reporter("consistency");
  try {
    const cp = needCheckpoint();
    const text = $("from-size").value.trim();
    if (!/^[0-9]+$/.test(text) || BigInt(text) > cp.size) throw new VerifyError("invalid-argument", `the older size is a whole number up to ${cp.size}`);
    const proof = await fetchFromLog(`/consistency?from=${text}&to=${cp.size}`, "json");
    const keys = await pinnedKeys();
    const old = proof.fromCheckpoint === null ? null : await verifyCheckpoint(proof.fromCheckpoint, keys, report.step);
    if (old !== null && old.size !== BigInt(text)) throw new VerifyError("malformed-checkpoint", `the server sent the checkpoint of size ${old.size}`);
    const oldRoot = old === null ? fromHex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") : old.rootHash;
    await verifyConsistency(BigInt(text), cp.size, oldRoot, cp.rootHash, proof.consistencyPath.map((h) => fromHex(h)), report.step);
    report.done(`the tree of ${cp.size} entries extends the tree of ${text}: the log only appended.`);
  } catch (error) {
    report.failed(error);
  }
}

async function verifyDocumentForm() {
  const report = reporter("document");
  try {
    const vkeys = $("vkeys").value.split("\n").map((l) => l.trim()).filter(Boolean);
    const result = await verifyDocument($("document").value, vkeys, { checkpoints: current ? [current.note] : [] }, report.step);
    const pinned = result.pinned ? "against the pinned key" : "against its own vkey only (pin a key to check it is the log's)";
    report.done(`${result.format}: ${result.entries} entr${result.entries === 1 ? "y" : "ies"} at tree size ${result.treeSize}, ${pinned}.`);
  } catch (error) {
    report.failed(error);
  }
}

async function fetchCheckpoint() {
  const report = reporter("checkpoint");
  try {
    $("checkpoint").value = await fetchFromLog("/checkpoint");
    await verifyCheckpointForm();
  } catch (error) {
    report.failed(error);
  }
}

function forget() {
  Object.keys(localStorage).filter((k) => k.startsWith(`${STORE}/last/`)).forEach((k) => localStorage.removeItem(k));
  $("remembered").textContent = "No checkpoint remembered.";
  $("split-view").hidden = true;
}

$("vkeys").value = localStorage.getItem(`${STORE}/vkeys`) ?? "";
if ($("vkeys").value) pin();
$("pin-key").addEventListener("click", pin);
$("fetch-key").addEventListener("click", showServerKey);
$("fetch-checkpoint").addEventListener("click", fetchCheckpoint);
$("verify-checkpoint").addEventListener("click", verifyCheckpointForm);
$("forget").addEventListener("click", forget);
$("verify-inclusion").addEventListener("click", verifyInclusionForm);
$("verify-consistency").addEventListener("click", verifyConsistencyForm);
$("verify-document").addEventListener("click", verifyDocumentForm);
$("document-file").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (file) $("document").value = await file.text();
});
document.body.dataset.auditorReady = "true";
