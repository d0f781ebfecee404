// Command tiles-check reads a log through its C2SP tlog-tiles API with golang.org/x/mod's
// sumdb/tlog and sumdb/note, unmodified, and checks it:
//
//  1. GET <url>/checkpoint: the note must verify under -log-key (x/mod note.Open); its first
//     three lines are the origin (the key's name), the size and the root hash;
//  2. tlog.TileHashReader over GET <url>/tile/<L>/<N>[.p/<W>] (the TileReader below only maps
//     x/mod's tile paths, tile/8/L/N, to tlog-tiles' tile/L/N): tlog.TreeHash must give the
//     checkpoint's root, and the reader authenticates every tile it reads against it;
//  3. for each -index (default: the first and the last leaf): tlog.ProveRecord and
//     tlog.CheckRecord against the root, with the leaf's record hash taken from the entry
//     bundle GET <url>/tile/entries/<N>[.p/<W>] (-token, bearer) when given, else from the
//     level-0 tile;
//  4. for each -old size: tlog.ProveTree and tlog.CheckTree (consistency with the root).
//
// It prints one JSON object and exits 0 if everything holds, 1 if a check fails, 2 on a
// usage or network error.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const tileHeight = 8

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type client struct {
	base  string
	token string
	http  *http.Client
	reads int
}

func (c *client) get(path string, auth bool) ([]byte, error) {
	req, err := http.NewRequest("GET", c.base+"/"+path, nil)
	if err != nil {
		return nil, err
	}
	if auth && c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /%s: HTTP %d: %s", path, resp.StatusCode, bytes.TrimSpace(body))
	}
	c.reads++
	return body, nil
}

// tileReader is x/mod's tlog.TileReader over the tlog-tiles URLs.
type tileReader struct{ c *client }

func (r tileReader) Height() int { return tileHeight }

// c2spPath maps x/mod's "tile/8/L/N[.p/W]" to tlog-tiles' "tile/L/N[.p/W]".
func c2spPath(t tlog.Tile) string {
	return "tile/" + strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", tileHeight))
}

func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	for i, t := range tiles {
		body, err := r.c.get(c2spPath(t), false)
		if err != nil {
			return nil, err
		}
		data[i] = body
	}
	return data, nil
}

func (r tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

func parseCheckpoint(text string) (checkpoint, error) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 {
		return checkpoint{}, errors.New("checkpoint has fewer than three lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return checkpoint{}, fmt.Errorf("bad checkpoint size %q", lines[1])
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		return checkpoint{}, fmt.Errorf("bad checkpoint root %q", lines[2])
	}
	var root tlog.Hash
	copy(root[:], raw)
	return checkpoint{origin: lines[0], size: size, root: root}, nil
}

// entryData returns leaf n's data from its entry bundle in the tree of size.
func entryData(c *client, n, size int64) ([]byte, error) {
	tile := tlog.TileForIndex(tileHeight, tlog.StoredHashIndex(0, n))
	if end := size - tile.N<<tileHeight; end < 1<<tileHeight {
		tile.W = int(end)
	} else {
		tile.W = 1 << tileHeight
	}
	path := "tile/entries/" + strings.TrimPrefix(c2spPath(tile), "tile/0/")
	body, err := c.get(path, true)
	if err != nil {
		return nil, err
	}
	r := bufio.NewReader(bytes.NewReader(body))
	for i := int64(0); ; i++ {
		var length uint16
		if err := binary.Read(r, binary.BigEndian, &length); err != nil {
			return nil, fmt.Errorf("entry bundle %s ends before entry %d", path, n)
		}
		entry := make([]byte, length)
		if _, err := io.ReadFull(r, entry); err != nil {
			return nil, fmt.Errorf("entry bundle %s is truncated", path)
		}
		if tile.N<<tileHeight+i == n {
			return entry, nil
		}
	}
}

type result struct {
	OK         bool     `json:"ok"`
	Origin     string   `json:"origin,omitempty"`
	Size       int64    `json:"size,omitempty"`
	Root       string   `json:"root,omitempty"`
	Inclusions []int64  `json:"inclusions_verified,omitempty"`
	Consistent []int64  `json:"consistent_with,omitempty"`
	FromBundle bool     `json:"leaves_from_entry_bundles"`
	Requests   int      `json:"requests"`
	Error      string   `json:"error,omitempty"`
	Checks     []string `json:"checks,omitempty"`
}

func main() {
	url := flag.String("url", "", "the log's tlog-tiles prefix, e.g. http://127.0.0.1:8000")
	logKey := flag.String("log-key", "", "the log's verifier key NAME+KEYID+KEY (Ed25519)")
	token := flag.String("token", "", "bearer token for entry bundles (optional)")
	var indexes, olds listFlag
	flag.Var(&indexes, "index", "a leaf index to prove included (repeatable)")
	flag.Var(&olds, "old", "an older tree size to prove consistent (repeatable)")
	flag.Parse()
	out := result{}
	fail := func(code int, format string, args ...any) {
		out.Error = fmt.Sprintf(format, args...)
		_ = json.NewEncoder(os.Stdout).Encode(out)
		os.Exit(code)
	}
	if *url == "" || *logKey == "" {
		fail(2, "usage: tiles-check -url URL -log-key VKEY [-token T] [-index N]... [-old N]...")
	}
	verifier, err := note.NewVerifier(*logKey)
	if err != nil {
		fail(2, "bad -log-key: %v", err)
	}
	c := &client{base: strings.TrimRight(*url, "/"), token: *token,
		http: &http.Client{Timeout: 30 * time.Second}}
	text, err := c.get("checkpoint", false)
	if err != nil {
		fail(2, "%v", err)
	}
	n, err := note.Open(text, note.VerifierList(verifier))
	if err != nil {
		fail(1, "checkpoint signature: %v", err)
	}
	cp, err := parseCheckpoint(n.Text)
	if err != nil {
		fail(1, "%v", err)
	}
	if cp.origin != verifier.Name() {
		fail(1, "checkpoint origin %q is not the log key's name %q", cp.origin, verifier.Name())
	}
	out.Origin, out.Size, out.Root = cp.origin, cp.size, cp.root.String()
	out.Checks = append(out.Checks, "checkpoint signature (x/mod note.Open)")
	if cp.size == 0 {
		fail(1, "the tree is empty: nothing to check")
	}
	hr := tlog.TileHashReader(tlog.Tree{N: cp.size, Hash: cp.root}, tileReader{c})
	th, err := tlog.TreeHash(cp.size, hr)
	if err != nil {
		fail(1, "tree hash from tiles: %v", err)
	}
	if th != cp.root {
		fail(1, "tiles give root %v, the checkpoint says %v", th, cp.root)
	}
	out.Checks = append(out.Checks, "root from tiles (tlog.TileHashReader, tlog.TreeHash)")
	if len(indexes) == 0 {
		indexes = listFlag{"0", strconv.FormatInt(cp.size-1, 10)}
	}
	for _, text := range indexes {
		i, err := strconv.ParseInt(text, 10, 64)
		if err != nil || i < 0 || i >= cp.size {
			fail(2, "bad -index %q for a tree of %d", text, cp.size)
		}
		var leaf tlog.Hash
		if *token != "" {
			data, err := entryData(c, i, cp.size)
			if err != nil {
				fail(1, "%v", err)
			}
			leaf = tlog.RecordHash(data)
			out.FromBundle = true
		} else {
			hashes, err := hr.ReadHashes([]int64{tlog.StoredHashIndex(0, i)})
			if err != nil {
				fail(1, "leaf %d from tiles: %v", i, err)
			}
			leaf = hashes[0]
		}
		proof, err := tlog.ProveRecord(cp.size, i, hr)
		if err != nil {
			fail(1, "inclusion proof of %d from tiles: %v", i, err)
		}
		if err := tlog.CheckRecord(proof, cp.size, cp.root, i, leaf); err != nil {
			fail(1, "leaf %d is not in the tree: %v", i, err)
		}
		out.Inclusions = append(out.Inclusions, i)
	}
	out.Checks = append(out.Checks, "inclusion (tlog.ProveRecord, tlog.CheckRecord)")
	for _, text := range olds {
		old, err := strconv.ParseInt(text, 10, 64)
		if err != nil || old < 1 || old > cp.size {
			fail(2, "bad -old %q for a tree of %d", text, cp.size)
		}
		oldHash, err := tlog.TreeHash(old, hr)
		if err != nil {
			fail(1, "tree hash of %d from tiles: %v", old, err)
		}
		proof, err := tlog.ProveTree(cp.size, old, hr)
		if err != nil {
			fail(1, "consistency proof from %d: %v", old, err)
		}
		if err := tlog.CheckTree(proof, cp.size, cp.root, old, oldHash); err != nil {
			fail(1, "tree %d is not a prefix: %v", old, err)
		}
		out.Consistent = append(out.Consistent, old)
	}
	if len(olds) > 0 {
		out.Checks = append(out.Checks, "consistency (tlog.ProveTree, tlog.CheckTree)")
	}
	out.OK, out.Requests = true, c.reads
	_ = json.NewEncoder(os.Stdout).Encode(out)
}
