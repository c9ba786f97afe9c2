// Runs every vector of tests/data/auditor_vectors.json through verify.js and documents.js in the browser
// (tests/e2e/test_auditor_browser.py evaluates this function with the vectors); outcome per vector:
// "ok" or the VerifyError code (documents: "reject"), as tests/support/auditor_vectors.py does in Python.
async (vectors) => {
  const v = await import("/static/pages/auditor/verify.js");
  const d = await import("/static/pages/auditor/documents.js");
  const h = (x) => v.fromHex(x);
  const run = {
    leaves: async (x) => {
      if (v.toHex(await v.leafHash(h(x.entry))) !== x.leafHash) throw new v.VerifyError("root-mismatch", "leaf hash");
    },
    inclusion: (x) => v.verifyInclusion(h(x.leafHash), x.leafIndex, x.treeSize, x.path.map(h), h(x.root)),
    consistency: (x) => v.verifyConsistency(x.fromSize, x.toSize, h(x.oldRoot), h(x.newRoot), x.path.map(h)),
    checkpoints: async (x) => v.verifyCheckpoint(x.note, await Promise.all([...x.vkeys, ...(x.witnessVkeys || [])].map(v.parseVkey))),
    vkeys: async (x) => { const key = await v.parseVkey(x.vkey); if (key.keyHash !== x.keyHash) throw new Error("key hash"); },
    documents: (x) => d.verifyDocument(x.document, x.vkeys).catch((e) => { throw new v.VerifyError("reject", e.message); }),
  };
  const out = {};
  for (const [kind, fn] of Object.entries(run)) {
    out[kind] = [];
    for (const x of vectors[kind]) {
      try { await fn(x); out[kind].push("ok"); }
      catch (e) { out[kind].push(e instanceof v.VerifyError ? e.code : `exception: ${e}`); }
    }
  }
  return out;
}
