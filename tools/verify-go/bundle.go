package main

// The evidence bundle (docs/evidence-format.md §Evidence bundle) and step 1 of its
// verification: read the zip and bundle.json strictly into this model.

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

const (
	bundleFormat   = "audit-ledger-evidence/2" // with the stream heads (step 9)
	bundleFormatV1 = "audit-ledger-evidence/1" // without: verified, completeness not proven
	bundleJSON     = "bundle.json"
	reportHTML     = "report.html"
	namesJSON      = "names.json" // optional: document file names for people (checked, not kept)
	documentsDir   = "documents/"
)

// What is read at most: the defaults of the Python verifier's BundleLimits. Each is checked
// against the zip's directory and again on the bytes actually inflated.
const (
	maxMembers     = 10_000
	maxMemberBytes = 256 << 20
	maxTotalBytes  = 1 << 30
	maxJSONBytes   = 32 << 20
)

var (
	hex64Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
	timePattern  = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$`)
	datePattern  = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	uuidPattern  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// formatError is a step 1 failure: the zip or bundle.json is not the format.
type formatError struct{ message string }

func (e *formatError) Error() string { return e.message }

func formatErrorf(format string, args ...any) error {
	return &formatError{fmt.Sprintf(format, args...)}
}

// unsupportedError: a well-formed bundle this tool does not verify (profile gm).
type unsupportedError struct{ message string }

func (e *unsupportedError) Error() string { return e.message }

type bundle struct {
	format                              string
	heads                               map[string]*headClaim // nil: format 1
	profile, origin, stream, exportedAt string
	checkpoint, logKey                  string
	rootKey                             rootKey
	entries, registry                   []*item
	asKnownAt                           string            // "" when evaluation.as_known_at is null
	documents                           map[string]string // name → SHA-256 (hex) of the bytes shipped
	named                               []string          // the documents names.json names
}

type rootKey struct{ keyID, suite, publicKey string }

// item is an ITEM of entries or registry: the entry as shipped (raw, for hashing) and, when
// its shape is right, parsed.
type item struct {
	section   string
	position  int
	raw       any
	entry     *entry // nil when malformed (reported in step 1, checked no further)
	hash      string
	leafIndex int64
	proof     []tlog.Hash
}

func (it *item) where() string {
	seq := ""
	if it.entry != nil {
		seq = fmt.Sprintf(" seq %d", it.entry.seq)
	}
	return fmt.Sprintf("%s[%d] (leaf %d%s)", it.section, it.position, it.leafIndex, seq)
}

// entry is docs/evidence-format.md §Entry; filing is §Filing.
type entry struct {
	filing     filing
	signature  string
	seq        int64
	prev       string
	recordedAt string
}

type filing struct {
	raw                                                map[string]any // what the author signed
	ledger, stream, kind, effective, actor, key, nonce string
	payload                                            map[string]any
}

// readBundle reads a bundle's zip (size bytes at r) into the model. It returns a *formatError (step 1)
// or an *unsupportedError; an entry of the wrong shape is not fatal: it comes back as a step 1
// "entry-shape" failure, and later steps skip that entry, as in the Python verifier.
func readBundle(r io.ReaderAt, size int64) (*bundle, []failure, error) {
	manifest, documents, named, err := readZip(r, size)
	if err != nil {
		return nil, nil, err
	}
	value, err := parseJSON(manifest)
	if err != nil {
		return nil, nil, formatErrorf("bundle.json is not strict JSON: %v", err)
	}
	object, ok := value.(map[string]any)
	if !ok {
		return nil, nil, formatErrorf("bundle.json must be a JSON object")
	}
	format, _ := object["format"].(string)
	if format != bundleFormat && format != bundleFormatV1 {
		return nil, nil, formatErrorf("format must be %q (or %q), got %v", bundleFormat, bundleFormatV1, object["format"])
	}
	keys := []string{"format", "profile", "origin", "stream", "exported_at", "checkpoint",
		"log_key", "root_key", "entries", "registry", "projections", "evaluation"}
	if format == bundleFormat {
		keys = append(keys, "heads")
	}
	top, err := exactKeys(value, "bundle.json", keys...)
	if err != nil {
		return nil, nil, err
	}
	b := &bundle{format: format, documents: documents, named: named}
	for _, field := range []struct {
		name string
		into *string
	}{{"profile", &b.profile}, {"origin", &b.origin}, {"stream", &b.stream},
		{"exported_at", &b.exportedAt}, {"checkpoint", &b.checkpoint}, {"log_key", &b.logKey}} {
		if *field.into, err = nonEmptyString(top, field.name, ""); err != nil {
			return nil, nil, err
		}
	}
	switch {
	case b.profile == "gm":
		return nil, nil, &unsupportedError{"profile gm (SM3, SM2) is not verified by this tool: use `ledger verify-bundle`"}
	case b.profile != "intl":
		return nil, nil, formatErrorf("unknown profile %q", b.profile)
	case !uuidPattern.MatchString(b.stream):
		return nil, nil, formatErrorf("stream must be a lowercase hyphenated UUID: %q", b.stream)
	case !timePattern.MatchString(b.exportedAt):
		return nil, nil, formatErrorf("exported_at must be RFC 3339 UTC with microseconds")
	}
	root, err := exactKeys(top["root_key"], "root_key", "key_id", "suite", "public_key")
	if err != nil {
		return nil, nil, err
	}
	for _, field := range []struct {
		name string
		into *string
	}{{"key_id", &b.rootKey.keyID}, {"suite", &b.rootKey.suite}, {"public_key", &b.rootKey.publicKey}} {
		if *field.into, err = nonEmptyString(root, field.name, "root_key."); err != nil {
			return nil, nil, err
		}
	}
	var problems []failure
	for _, section := range []string{"entries", "registry"} {
		list, ok := top[section].([]any)
		if !ok || len(list) == 0 {
			return nil, nil, formatErrorf("%s must be a non-empty list", section)
		}
		for position, value := range list {
			it, err := parseItem(value, section, position)
			if err != nil {
				return nil, nil, err
			}
			if it.entry, err = parseEntry(it.raw); err != nil {
				problems = append(problems, failure{1, "entry-shape", it.where(), err.Error()})
			}
			if section == "entries" {
				b.entries = append(b.entries, it)
			} else {
				b.registry = append(b.registry, it)
			}
		}
	}
	if format == bundleFormat {
		if b.heads, err = parseHeads(top["heads"]); err != nil {
			return nil, nil, err
		}
	}
	if err := checkProjections(top["projections"]); err != nil {
		return nil, nil, err
	}
	if b.asKnownAt, err = parseEvaluation(top["evaluation"]); err != nil {
		return nil, nil, err
	}
	return b, problems, nil
}

// readZip returns bundle.json, each document's SHA-256 by name and the documents names.json
// names, refusing any other member
// (report.html is read, not kept), duplicates, and members over the limits.
func readZip(r io.ReaderAt, size int64) ([]byte, map[string]string, []string, error) {
	archive, err := zip.NewReader(r, size)
	if err != nil {
		return nil, nil, nil, formatErrorf("not a zip file: %v", err)
	}
	if len(archive.File) > maxMembers {
		return nil, nil, nil, formatErrorf("%d zip members: at most %d", len(archive.File), maxMembers)
	}
	var manifest []byte
	var named []string // the documents names.json names
	documents := map[string]string{}
	seen := map[string]bool{}
	var total int64
	for _, file := range archive.File {
		name := file.Name
		if seen[name] {
			return nil, nil, nil, formatErrorf("zip member %q appears twice", name)
		}
		seen[name] = true
		document := strings.HasPrefix(name, documentsDir) && hex64Pattern.MatchString(name[len(documentsDir):])
		if name != bundleJSON && name != reportHTML && name != namesJSON && !document {
			return nil, nil, nil, formatErrorf("unexpected zip member %q: expected bundle.json, report.html, names.json and documents/<64 lowercase hex>", name)
		}
		// archive/zip reads a member flagged as encrypted as if it were not, and would take
		// any decompressor registered with it: refuse both, as the Python verifier does.
		if file.Flags&0x1 != 0 {
			return nil, nil, nil, formatErrorf("zip member %q is encrypted", name)
		}
		if file.Method != zip.Store && file.Method != zip.Deflate {
			return nil, nil, nil, formatErrorf("zip member %q uses compression method %d: only stored and deflated are read", name, file.Method)
		}
		limit := int64(maxMemberBytes)
		if name == bundleJSON || name == namesJSON {
			limit = maxJSONBytes
		}
		if file.UncompressedSize64 > uint64(limit) {
			return nil, nil, nil, formatErrorf("zip member %q is %d bytes: at most %d", name, file.UncompressedSize64, limit)
		}
		if total += int64(file.UncompressedSize64); total > maxTotalBytes {
			return nil, nil, nil, formatErrorf("the zip expands to more than %d bytes", maxTotalBytes)
		}
		var sink io.Writer = io.Discard
		var content bytes.Buffer
		hash := sha256.New()
		if document {
			sink = hash
		} else if name == bundleJSON || name == namesJSON {
			sink = &content
		}
		if err := readMember(file, sink); err != nil {
			return nil, nil, nil, formatErrorf("zip member %q cannot be read: %v", name, err)
		}
		if name == namesJSON {
			if named, err = checkNames(content.Bytes()); err != nil {
				return nil, nil, nil, err
			}
		}
		if document {
			documents[name[len(documentsDir):]] = hex.EncodeToString(hash.Sum(nil))
		} else if name == bundleJSON {
			manifest = content.Bytes()
		}
	}
	if manifest == nil {
		return nil, nil, nil, formatErrorf("the zip has no bundle.json")
	}
	return manifest, documents, named, nil
}

// readMember copies a member's inflated bytes to sink: exactly the size its header states
// (a header that lies about it is refused), with its CRC-32 checked by archive/zip.
func readMember(file *zip.File, sink io.Writer) error {
	reader, err := file.Open()
	if err != nil {
		return err
	}
	defer reader.Close()
	n, err := io.Copy(sink, io.LimitReader(reader, int64(file.UncompressedSize64)+1))
	if err != nil {
		return err
	}
	if uint64(n) != file.UncompressedSize64 {
		return errors.New("its size is not the one its header states")
	}
	return nil
}

// parseItem checks an ITEM's shape; its entry is parsed by parseEntry.
func parseItem(value any, section string, position int) (*item, error) {
	what := fmt.Sprintf("%s[%d]", section, position)
	fields, err := exactKeys(value, what, "entry", "hash", "leaf_index", "inclusion_proof")
	if err != nil {
		return nil, err
	}
	it := &item{section: section, position: position, raw: fields["entry"]}
	if it.hash, _ = fields["hash"].(string); !hex64Pattern.MatchString(it.hash) {
		return nil, formatErrorf("%s.hash must be 64 lowercase hex digits", what)
	}
	leaf, isInt := fields["leaf_index"].(int64)
	if !isInt || leaf < 0 {
		return nil, formatErrorf("%s.leaf_index must be a non-negative integer", what)
	}
	it.leafIndex = leaf
	proof, ok := fields["inclusion_proof"].([]any)
	if !ok {
		return nil, formatErrorf("%s.inclusion_proof must be a list of 64-hex hashes", what)
	}
	for _, node := range proof {
		text, _ := node.(string)
		if !hex64Pattern.MatchString(text) {
			return nil, formatErrorf("%s.inclusion_proof must be a list of 64-hex hashes", what)
		}
		var hash tlog.Hash
		hex.Decode(hash[:], []byte(text))
		it.proof = append(it.proof, hash)
	}
	if _, ok := it.raw.(map[string]any); !ok {
		return nil, formatErrorf("%s.entry must be a JSON object", what)
	}
	return it, nil
}

// parseEntry checks an entry's shape: exactly the keys of docs/design.md §5, with their types.
func parseEntry(value any) (*entry, error) {
	fields, err := exactKeys(value, "entry", "filing", "signature", "seq", "prev", "recorded_at")
	if err != nil {
		return nil, err
	}
	e := &entry{}
	var ok bool
	if e.seq, ok = fields["seq"].(int64); !ok || e.seq < 1 {
		return nil, errors.New("seq must be a positive integer")
	}
	if e.prev, _ = fields["prev"].(string); !hex64Pattern.MatchString(e.prev) {
		return nil, errors.New("prev must be 64 lowercase hex digits")
	}
	if e.recordedAt, _ = fields["recorded_at"].(string); !timePattern.MatchString(e.recordedAt) {
		return nil, errors.New("recorded_at must be RFC 3339 UTC with microseconds")
	}
	if e.signature, ok = fields["signature"].(string); !ok {
		return nil, errors.New("signature must be a base64 string")
	}
	f, err := exactKeys(fields["filing"], "filing", "v", "ledger", "stream", "type",
		"effective", "payload", "actor", "key", "nonce")
	if err != nil {
		return nil, err
	}
	if v, ok := f["v"].(int64); !ok || v != 1 {
		return nil, fmt.Errorf("unsupported filing version %v", f["v"])
	}
	e.filing.raw = f
	for _, field := range []struct {
		name string
		into *string
	}{{"ledger", &e.filing.ledger}, {"stream", &e.filing.stream}, {"type", &e.filing.kind},
		{"effective", &e.filing.effective}, {"actor", &e.filing.actor}, {"key", &e.filing.key},
		{"nonce", &e.filing.nonce}} {
		if *field.into, err = nonEmptyString(f, field.name, "filing."); err != nil {
			return nil, err
		}
	}
	if e.filing.payload, ok = f["payload"].(map[string]any); !ok {
		return nil, errors.New("filing.payload must be an object")
	}
	if !uuidPattern.MatchString(e.filing.stream) || !uuidPattern.MatchString(e.filing.nonce) {
		return nil, errors.New("stream and nonce must be lowercase hyphenated UUIDs")
	}
	if !isDate(e.filing.effective) {
		return nil, errors.New("effective must be a date YYYY-MM-DD")
	}
	return e, nil
}

func checkProjections(value any) error {
	projections, ok := value.(map[string]any)
	if !ok {
		return formatErrorf("projections must be a JSON object")
	}
	for name, view := range projections {
		fields, err := exactKeys(view, "projections."+name, "state", "state_hash")
		if err != nil {
			return err
		}
		if digest, _ := fields["state_hash"].(string); !hex64Pattern.MatchString(digest) {
			return formatErrorf("projections.%s.state_hash must be 64 lowercase hex digits", name)
		}
	}
	return nil
}

// parseEvaluation checks the evaluation member and returns as_known_at ("" for null).
func parseEvaluation(value any) (string, error) {
	fields, err := exactKeys(value, "evaluation", "on", "as_known_at", "calendar", "calendar_digest")
	if err != nil {
		return "", err
	}
	if on, _ := fields["on"].(string); !isDate(on) {
		return "", formatErrorf("evaluation.on must be a date YYYY-MM-DD")
	}
	known, _ := fields["as_known_at"].(string)
	if fields["as_known_at"] != nil && !timePattern.MatchString(known) {
		return "", formatErrorf("evaluation.as_known_at must be null or RFC 3339 UTC with microseconds")
	}
	if digest, _ := fields["calendar_digest"].(string); !hex64Pattern.MatchString(digest) {
		return "", formatErrorf("evaluation.calendar_digest must be 64 lowercase hex digits")
	}
	if _, ok := fields["calendar"].(map[string]any); !ok {
		return "", formatErrorf("evaluation.calendar must be an object")
	}
	return known, nil
}

func isDate(text string) bool {
	if !datePattern.MatchString(text) {
		return false
	}
	_, err := time.Parse("2006-01-02", text) // refuses 2026-02-30
	return err == nil
}

// exactKeys requires a JSON object with exactly the given keys. Its error is a *formatError.
func exactKeys(value any, what string, keys ...string) (map[string]any, error) {
	object, ok := value.(map[string]any)
	if !ok {
		return nil, formatErrorf("%s must be a JSON object", what)
	}
	want := map[string]bool{}
	for _, key := range keys {
		want[key] = true
	}
	var missing, extra []string
	for _, key := range keys {
		if _, ok := object[key]; !ok {
			missing = append(missing, key)
		}
	}
	for key := range object {
		if !want[key] {
			extra = append(extra, key)
		}
	}
	if missing != nil || extra != nil {
		sort.Strings(extra)
		return nil, formatErrorf("%s must have exactly the keys %v: missing %v, unexpected %v",
			what, keys, missing, extra)
	}
	return object, nil
}

func nonEmptyString(object map[string]any, key, prefix string) (string, error) {
	text, ok := object[key].(string)
	if !ok || text == "" {
		return "", formatErrorf("%s%s must be a non-empty string", prefix, key)
	}
	return text, nil
}

// safeFileName is the Python verifier's: no control or reserved character, 1 to 120
// characters ("." and ".." are refused apart: RE2 has no lookahead).
var safeFileName = regexp.MustCompile(`^[^\x00-\x1f\x7f/\\:*?"<>|]{1,120}$`)

// checkNames checks names.json as the Python verifier does: a JSON object from a document's
// SHA-256 to a safe file name, each name used once (compared case-insensitively).
func checkNames(data []byte) ([]string, error) {
	value, err := parseJSON(data)
	if err != nil {
		return nil, formatErrorf("names.json: %v", err)
	}
	object, ok := value.(map[string]any)
	if !ok {
		return nil, formatErrorf("names.json must be a JSON object {sha256: file name}")
	}
	seen := map[string]bool{}
	shas := make([]string, 0, len(object))
	for sha, raw := range object {
		if !hex64Pattern.MatchString(sha) {
			return nil, formatErrorf("names.json: %q is not a document's SHA-256", sha)
		}
		name, ok := raw.(string)
		if !ok || !safeFileName.MatchString(name) || name == "." || name == ".." {
			return nil, formatErrorf("names.json: the name of %s is not a safe file name (no path, no control or reserved character, 1 to 120 characters)", sha)
		}
		folded := strings.ToLower(name)
		if seen[folded] {
			return nil, formatErrorf("names.json: %q names two documents", name)
		}
		seen[folded] = true
		shas = append(shas, sha)
	}
	return shas, nil
}
