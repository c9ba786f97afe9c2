// Cross-check of our C2SP tlog-cosignature encoding with Go's golang.org/x/mod/sumdb/note.
//
// Usage: go run cosignature_check.go NOTE_FILE LOG_VKEY WITNESS_VKEY
//
// note.Open verifies the log's signature (type 0x01) and reports the witness line as an unverified
// signature; the cosignature/v1 line (type 0x04) is then checked here from the spec alone: key ID
// SHA-256(name || "\n" || 0x04 || key)[:4], a big-endian u64 timestamp, and an Ed25519 signature over
// "cosignature/v1\ntime <ts>\n" + the note text. Prints "ok <witness> <timestamp>" or exits 1.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 4 {
		fail("usage: cosignature_check NOTE_FILE LOG_VKEY WITNESS_VKEY")
	}
	msg, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("read: %v", err)
	}
	logVerifier, err := note.NewVerifier(os.Args[2])
	if err != nil {
		fail("log vkey: %v", err)
	}
	n, err := note.Open(msg, note.VerifierList(logVerifier))
	if err != nil {
		fail("note.Open: %v", err)
	}
	parts := strings.SplitN(os.Args[3], "+", 3)
	keyData, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(keyData) != 33 || keyData[0] != 0x04 {
		fail("witness vkey is not a cosignature/v1 key")
	}
	name, public := parts[0], ed25519.PublicKey(keyData[1:])
	h := sha256.Sum256(append(append([]byte(name+"\n"), 0x04), public...))
	keyID := binary.BigEndian.Uint32(h[:4])
	for _, sig := range n.UnverifiedSigs {
		if sig.Name != name || sig.Hash != keyID {
			continue
		}
		blob, err := base64.StdEncoding.DecodeString(sig.Base64)
		if err != nil || len(blob) != 76 {
			fail("malformed cosignature")
		}
		ts := binary.BigEndian.Uint64(blob[4:12])
		var message bytes.Buffer
		fmt.Fprintf(&message, "cosignature/v1\ntime %d\n%s", ts, n.Text)
		if !ed25519.Verify(public, message.Bytes(), blob[12:]) {
			fail("cosignature does not verify")
		}
		fmt.Printf("ok %s %d\n", name, ts)
		return
	}
	fail("no cosignature by %s", name)
}
