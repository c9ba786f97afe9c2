// An independent reader of our C2SP tlog-tiles endpoints, with Go's golang.org/x/mod/sumdb/tlog and note.
//
// Usage: go run tiles_check.go BASE_URL LOG_VKEY OLD_SIZE OLD_ROOT_B64 INDEX...
//
// Fetches BASE_URL/checkpoint, verifies its signature with note.Open, parses the C2SP checkpoint body
// (origin, size, base64 root), then reads hashes only through tlog.TileHashReader over HTTP-fetched tiles
// (BASE_URL/tile/<L>/<N>[.p/<W>]: TileHashReader authenticates every tile against the checkpoint's root).
// For each INDEX: the entry from the entry bundle BASE_URL/tile/entries/<N>[.p/<W>] is hashed with
// tlog.RecordHash, then ProveRecord + CheckRecord prove it is in the tree. TreeHash(OLD_SIZE) must equal
// OLD_ROOT (an older signed checkpoint), and ProveTree + CheckTree prove the old tree is a prefix of the
// new one. Prints "ok <size> <indexes checked>" or exits 1.
package main

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func get(url string) []byte {
	resp, err := http.Get(url)
	if err != nil {
		fail("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		fail("GET %s: status %d %v", url, resp.StatusCode, err)
	}
	return body
}

// c2spPath is tlog's tile path without its height segment: tile/8/L/N -> tile/L/N (C2SP tlog-tiles).
func c2spPath(t tlog.Tile) string {
	return "tile/" + strings.TrimPrefix(t.Path(), "tile/8/")
}

type httpTiles struct{ base string }

func (h httpTiles) Height() int { return 8 }

func (h httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		out[i] = get(h.base + "/" + c2spPath(t))
	}
	return out, nil
}

func (h httpTiles) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

// entry reads leaf index's entry from its entry bundle (uint16 big-endian length prefixes).
func entry(base string, index, size int64) []byte {
	n := index / 256
	width := size - n*256
	if width > 256 {
		width = 256
	}
	bundlePath := c2spPath(tlog.Tile{H: 8, L: 0, N: n, W: int(width)})
	bundle := get(base + "/" + strings.Replace(bundlePath, "tile/0/", "tile/entries/", 1))
	at := 0
	for i := int64(0); ; i++ {
		if at+2 > len(bundle) {
			fail("entry %d not in its bundle", index)
		}
		length := int(binary.BigEndian.Uint16(bundle[at:]))
		if i == index%256 {
			return bundle[at+2 : at+2+length]
		}
		at += 2 + length
	}
}

func main() {
	if len(os.Args) < 5 {
		fail("usage: tiles_check BASE_URL LOG_VKEY OLD_SIZE OLD_ROOT_B64 INDEX...")
	}
	base := strings.TrimRight(os.Args[1], "/")
	verifier, err := note.NewVerifier(os.Args[2])
	if err != nil {
		fail("vkey: %v", err)
	}
	msg, err := note.Open(get(base+"/checkpoint"), note.VerifierList(verifier))
	if err != nil {
		fail("checkpoint signature: %v", err)
	}
	lines := strings.Split(msg.Text, "\n")
	if len(lines) < 4 {
		fail("checkpoint body: %q", msg.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("checkpoint size: %v", err)
	}
	rootBytes, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(rootBytes) != tlog.HashSize {
		fail("checkpoint root: %v", err)
	}
	var tree tlog.Tree
	tree.N = size
	copy(tree.Hash[:], rootBytes)
	reader := tlog.TileHashReader(tree, httpTiles{base})

	oldSize, err := strconv.ParseInt(os.Args[3], 10, 64)
	if err != nil {
		fail("old size: %v", err)
	}
	oldRootBytes, err := base64.StdEncoding.DecodeString(os.Args[4])
	if err != nil {
		fail("old root: %v", err)
	}
	var oldRoot tlog.Hash
	copy(oldRoot[:], oldRootBytes)
	if got, err := tlog.TreeHash(oldSize, reader); err != nil || got != oldRoot {
		fail("TreeHash(%d) = %v, %v; want %v", oldSize, got, err, oldRoot)
	}
	treeProof, err := tlog.ProveTree(size, oldSize, reader)
	if err != nil {
		fail("ProveTree: %v", err)
	}
	if err := tlog.CheckTree(treeProof, size, tree.Hash, oldSize, oldRoot); err != nil {
		fail("CheckTree: %v", err)
	}
	if got, err := tlog.TreeHash(size, reader); err != nil || got != tree.Hash {
		fail("TreeHash(%d) = %v, %v", size, got, err)
	}

	checked := 0
	for _, arg := range os.Args[5:] {
		index, err := strconv.ParseInt(arg, 10, 64)
		if err != nil {
			fail("index: %v", err)
		}
		leaf := tlog.RecordHash(entry(base, index, size))
		proof, err := tlog.ProveRecord(size, index, reader)
		if err != nil {
			fail("ProveRecord(%d): %v", index, err)
		}
		if err := tlog.CheckRecord(proof, size, tree.Hash, index, leaf); err != nil {
			fail("CheckRecord(%d): %v", index, err)
		}
		checked++
	}
	fmt.Printf("ok %d %d\n", size, checked)
}
