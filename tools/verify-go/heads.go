package main

// The stream heads map (docs/evidence-format.md §Stream heads map) and step 9 of a bundle's
// verification, completeness: a format 2 bundle carries the project's and the registry's heads
// at its checkpoint with their map proofs; each proof must verify against the checkpoint's
// "heads" extension line, and each stream in the bundle must end at its head. Written from the
// document alone (SHA-256, the intl profile).

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/bits"
	"strings"
	"time"
)

// Domain prefixes of the map's hash inputs (§Keys, values and hashes).
const (
	headKeyPrefix  = 0x10
	headLeafPrefix = 0x11
	headNodePrefix = 0x12
	maxSiblings    = 256
	headsKeyword   = "heads"
)

var emptyHash [32]byte // EMPTY: an empty subtree, the empty map's root

// streamHead is a stream's head: (seq, entry hash, leaf index).
type streamHead struct {
	seq       int64
	entryHash [32]byte
	leafIndex int64
}

func (h *streamHead) value() []byte {
	value := make([]byte, 0, 48)
	value = binary.BigEndian.AppendUint64(value, uint64(h.seq))
	value = append(value, h.entryHash[:]...)
	return binary.BigEndian.AppendUint64(value, uint64(h.leafIndex))
}

type terminalLeaf struct{ key, valueHash [32]byte }

// headProof is PROOF of §Proof encoding: siblings bottom-up, and the terminal leaf if any.
type headProof struct {
	siblings [][32]byte
	terminal *terminalLeaf
}

// headClaim is a HEAD_PROOF member of the bundle's heads: {"stream", "head", "proof"}.
type headClaim struct {
	stream string
	head   *streamHead // nil: the stream has no entry (non-inclusion)
	proof  headProof
}

// parseHeads parses the heads member strictly (step 1): exactly "project" and "registry".
func parseHeads(value any) (map[string]*headClaim, error) {
	heads, err := exactKeys(value, "heads", "project", "registry")
	if err != nil {
		return nil, err
	}
	parsed := map[string]*headClaim{}
	for _, name := range []string{"project", "registry"} {
		what := "heads." + name
		fields, err := exactKeys(heads[name], what, "stream", "head", "proof")
		if err != nil {
			return nil, err
		}
		claim := &headClaim{}
		if claim.stream, _ = fields["stream"].(string); !uuidPattern.MatchString(claim.stream) {
			return nil, formatErrorf("%s.stream must be a lowercase hyphenated UUID", what)
		}
		if fields["head"] != nil {
			if claim.head, err = parseHead(fields["head"]); err != nil {
				return nil, formatErrorf("%s is malformed: %v", what, err)
			}
		}
		if claim.proof, err = parseHeadProof(fields["proof"]); err != nil {
			return nil, formatErrorf("%s is malformed: %v", what, err)
		}
		parsed[name] = claim
	}
	return parsed, nil
}

func parseHead(value any) (*streamHead, error) {
	fields, err := exactKeys(value, "head", "seq", "entry_hash", "leaf_index")
	if err != nil {
		return nil, err
	}
	head := &streamHead{}
	var ok bool
	if head.seq, ok = fields["seq"].(int64); !ok || head.seq < 1 {
		return nil, fmt.Errorf("head seq must be an integer in 1..2^64-1, got %v", fields["seq"])
	}
	if head.leafIndex, ok = fields["leaf_index"].(int64); !ok || head.leafIndex < 0 {
		return nil, fmt.Errorf("head leaf index must be an integer in 0..2^64-1, got %v", fields["leaf_index"])
	}
	if head.entryHash, err = hex32(fields["entry_hash"], "head entry_hash"); err != nil {
		return nil, err
	}
	return head, nil
}

func parseHeadProof(value any) (headProof, error) {
	var proof headProof
	fields, err := exactKeys(value, "heads proof", "siblings", "terminal")
	if err != nil {
		return proof, err
	}
	siblings, ok := fields["siblings"].([]any)
	if !ok {
		return proof, fmt.Errorf("proof siblings must be a JSON array")
	}
	if len(siblings) > maxSiblings {
		return proof, fmt.Errorf("proof has %d siblings: expected at most %d", len(siblings), maxSiblings)
	}
	for i, sibling := range siblings {
		hash, err := hex32(sibling, fmt.Sprintf("proof sibling [%d]", i))
		if err != nil {
			return proof, err
		}
		proof.siblings = append(proof.siblings, hash)
	}
	if fields["terminal"] != nil {
		leaf, err := exactKeys(fields["terminal"], "proof terminal", "key", "value_hash")
		if err != nil {
			return proof, err
		}
		proof.terminal = &terminalLeaf{}
		if proof.terminal.key, err = hex32(leaf["key"], "terminal key"); err != nil {
			return proof, err
		}
		if proof.terminal.valueHash, err = hex32(leaf["value_hash"], "terminal value_hash"); err != nil {
			return proof, err
		}
	}
	return proof, nil
}

func hex32(value any, what string) ([32]byte, error) {
	var out [32]byte
	text, _ := value.(string)
	if !hex64Pattern.MatchString(text) {
		return out, fmt.Errorf("%s must be 64 lowercase hex digits, got %v", what, value)
	}
	hex.Decode(out[:], []byte(text))
	return out, nil
}

// --- hashing (§Keys, values and hashes) ------------------------------------------------------

func headKey(stream string) [32]byte {
	raw, _ := hex.DecodeString(strings.ReplaceAll(stream, "-", "")) // checked: a UUID
	return sha256.Sum256(append([]byte{headKeyPrefix}, raw...))
}

func headLeafHash(key, valueHash [32]byte) [32]byte {
	return sha256.Sum256(append(append([]byte{headLeafPrefix}, key[:]...), valueHash[:]...))
}

func headNodeHash(left, right [32]byte) [32]byte {
	return sha256.Sum256(append(append([]byte{headNodePrefix}, left[:]...), right[:]...))
}

// keyBit is bit i of a key, the most significant first.
func keyBit(key [32]byte, i int) byte { return key[i/8] >> (7 - i%8) & 1 }

func sharedBits(a, b [32]byte) int {
	for i := range a {
		if x := a[i] ^ b[i]; x != 0 {
			return i*8 + bits.LeadingZeros8(x)
		}
	}
	return 256
}

// verifyHead follows §Verification, steps 2-6 (step 1, parsing, is parseHeads): head (nil:
// no entry) is the stream's head in the map whose root is root.
func verifyHead(root [32]byte, stream string, head *streamHead, proof headProof) error {
	key := headKey(stream) // step 2
	depth := len(proof.siblings)
	if depth > 0 && proof.siblings[0] == emptyHash { // step 3
		return fmt.Errorf("proof's bottom sibling is EMPTY: the map is not in shortcut form")
	}
	var current [32]byte // step 4
	switch {
	case head != nil && proof.terminal != nil:
		return fmt.Errorf("expected an inclusion proof for the head, got a non-inclusion proof")
	case head != nil:
		current = headLeafHash(key, sha256.Sum256(head.value()))
	case proof.terminal == nil:
		current = emptyHash
	case proof.terminal.key == key:
		return fmt.Errorf("non-inclusion proof ends in the stream's own leaf: the stream has a head")
	default:
		if shared := sharedBits(proof.terminal.key, key); shared < depth {
			return fmt.Errorf("non-inclusion proof ends in a leaf off the stream's path: it shares %d leading key bits, expected at least %d",
				shared, depth)
		}
		current = headLeafHash(proof.terminal.key, proof.terminal.valueHash)
	}
	for i, sibling := range proof.siblings { // step 5
		if keyBit(key, depth-i-1) == 1 {
			current = headNodeHash(sibling, current)
		} else {
			current = headNodeHash(current, sibling)
		}
	}
	if current != root { // step 6
		claim := "no head"
		if head != nil {
			claim = "the head"
		}
		return fmt.Errorf("heads proof for %s gives root %x, expected %x", claim, current[:], root[:])
	}
	return nil
}

// headsRoot is the root on the checkpoint's one "heads" extension line (§In the checkpoint).
func (cp *signedCheckpoint) headsRoot() ([32]byte, error) {
	var root [32]byte
	var found []string
	for _, line := range cp.extensions {
		if word, _, _ := strings.Cut(line, " "); word == headsKeyword {
			found = append(found, line)
		}
	}
	if len(found) != 1 {
		return root, fmt.Errorf("checkpoint has %d 'heads' extension lines: expected one", len(found))
	}
	_, encoded, space := strings.Cut(found[0], " ")
	raw, err := decodeCanonicalBase64(encoded)
	if !space || err != nil || len(raw) != 32 {
		return root, fmt.Errorf("checkpoint line %q is not 'heads ' followed by canonical base64 of a 32-byte root", found[0])
	}
	copy(root[:], raw)
	return root, nil
}

func (cp *signedCheckpoint) hasHeadsLine() bool {
	for _, line := range cp.extensions {
		if word, _, _ := strings.Cut(line, " "); word == headsKeyword {
			return true
		}
	}
	return false
}

// --- step 9 ---------------------------------------------------------------------------------

// Step 9: completeness. A format 1 bundle gets a warning; a format 2 one fails unless each
// stream's proof verifies against the checkpoint's heads root and its last item is the head.
func (v *verification) step9Heads() {
	if v.b.heads == nil {
		line := ""
		if v.checkpoint != nil && v.checkpoint.hasHeadsLine() {
			line = " although its checkpoint commits to the stream heads (a 'heads' line): ask for a format 2 export, or verify it --online"
		}
		v.warnings = append(v.warnings, "format 1 bundle: completeness is not proven"+line+
			"; it carries no stream heads proofs, so entries of the project or the registry newer than those shipped may exist before its checkpoint (docs/evidence-format.md, What a bundle cannot prove)")
		return
	}
	if v.checkpoint == nil {
		v.fail(9, "heads", "", "no checkpoint to prove the stream heads against")
		return
	}
	root, err := v.checkpoint.headsRoot()
	if err != nil {
		v.fail(9, "heads", "", "a format 2 bundle needs a checkpoint that commits to the stream heads, but checkpoint %d does not: %v",
			v.checkpoint.size, err)
		return
	}
	project := v.streamComplete(root, "project", v.b.stream, v.b.entries)
	registry := v.streamComplete(root, "registry", uuid5(registryNamespace, v.b.origin), v.b.registry)
	v.complete = project && registry
}

func (v *verification) streamComplete(root [32]byte, name, stream string, items []*item) bool {
	claim, where, size := v.b.heads[name], "heads."+name, v.checkpoint.size
	if claim.stream != stream {
		v.fail(9, "heads-stream", where, "the proof is for stream %s, but the bundle's %s stream is %s", claim.stream, name, stream)
		return false
	}
	if err := verifyHead(root, stream, claim.head, claim.proof); err != nil {
		v.fail(9, "heads-proof", where, "the head proof of the %s stream %s does not verify against checkpoint %d's heads root: %v",
			name, stream, size, err)
		return false
	}
	v.heads[name] = claim.head
	last := items[len(items)-1]
	if last.entry == nil {
		return false // a malformed entry, reported in step 1
	}
	head, seq := claim.head, last.entry.seq
	switch {
	case head == nil:
		v.fail(9, "complete", where, "%s: checkpoint %d commits to no entry of stream %s, but the bundle ships %d", name, size, stream, len(items))
	case seq < head.seq:
		missing := fmt.Sprintf("entries %d–%d are", seq+1, head.seq)
		if head.seq == seq+1 {
			missing = fmt.Sprintf("entry %d is", head.seq)
		}
		v.fail(9, "complete", where, "%s: the bundle ends at seq %d but checkpoint %d commits to seq %d: %s missing", name, seq, size, head.seq, missing)
	case seq > head.seq:
		v.fail(9, "complete", where, "%s: the bundle ends at seq %d but checkpoint %d commits to seq %d as the stream's head", name, seq, size, head.seq)
	case last.hash != hex.EncodeToString(head.entryHash[:]) || last.leafIndex != head.leafIndex:
		v.fail(9, "complete", where, "%s: the bundle's seq %d is entry %s… at leaf %d, but checkpoint %d commits to entry %x… at leaf %d",
			name, seq, last.hash[:16], last.leafIndex, size, head.entryHash[:8], head.leafIndex)
	default:
		return true
	}
	return false
}

// completeAsOf is when the proven completeness holds: the newest time a verified pinned
// cosignature/v1 witness states, else the newest recorded_at in the bundle; and which.
func (v *verification) completeAsOf() (string, string) {
	if v.cosignedAt >= 0 {
		return time.Unix(v.cosignedAt, 0).UTC().Format("2006-01-02T15:04:05.000000Z"), "cosigned"
	}
	newest := ""
	for _, it := range v.b.items() {
		if it.entry != nil && it.entry.recordedAt > newest {
			newest = it.entry.recordedAt
		}
	}
	return newest, "newest entry recorded"
}

// noteCosignedAt keeps the newest timestamp of a verified cosignature/v1 line by key.
func (v *verification) noteCosignedAt(key *verifierKey) {
	if key.kind != typeCosignature {
		return
	}
	for _, line := range v.checkpoint.lines {
		if line.name == key.name && line.keyID == key.keyID && len(line.signature) >= 8 {
			if t := int64(binary.BigEndian.Uint64(line.signature[:8])); t > v.cosignedAt {
				v.cosignedAt = t
			}
		}
	}
}

// headsSummary is "project head seq 6; registry head seq 12".
func (v *verification) headsSummary() string {
	var parts []string
	for _, name := range []string{"project", "registry"} {
		if head := v.heads[name]; head != nil {
			parts = append(parts, fmt.Sprintf("%s head seq %d", name, head.seq))
		} else {
			parts = append(parts, name+": no entry")
		}
	}
	return strings.Join(parts, "; ")
}
