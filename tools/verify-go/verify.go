package main

// The verification steps of docs/evidence-format.md §Verification steps, 2 to 7 and 9 (in
// heads.go), for the intl profile (SHA-256, Ed25519). Every step runs and every failure is kept, with the same step
// numbers and check names as `ledger verify-bundle`. Step 8 (recomputing the projections with
// the Measures' rules) is not done here, and neither is the catalogue's part of step 6
// (which role may file which event type, payload schemas): see README.md.

import (
	"crypto/ed25519"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

const (
	rootActor = "root"
	zeroHash  = "0000000000000000000000000000000000000000000000000000000000000000"
)

// registryNamespace: the registry stream is uuid5(this namespace, ORIGIN).
var registryNamespace = [16]byte{0x6f, 0x1d, 0x2c, 0x1e, 0x3b, 0x0a, 0x5d, 0x7e, 0x9a, 0x4b,
	0x8c, 0x2f, 0x0e, 0x1d, 0x3a, 0x5b}

type failure struct {
	step    int
	check   string
	where   string
	message string
}

func (f failure) String() string {
	place := ""
	if f.where != "" {
		place = " " + f.where
	}
	return fmt.Sprintf("step %d [%s]%s: %s", f.step, f.check, place, f.message)
}

// trust holds the verifier's trust anchors, parsed before the bundle is read.
type trust struct {
	logKey    *verifierKey   // nil: check against the bundle's own key (-trust-embedded-keys)
	rootKey   []byte         // nil: the bundle's root key, vouched for only by the log
	witnesses []*verifierKey // distinct (name, key ID)
	quorum    int            // how many of them must have validly cosigned
}

// resolveTrust parses the pinned keys; an error means they are unusable (exit 2). A log key
// is required unless the bundle's own keys are explicitly trusted; quorum < 0 means all.
func resolveTrust(logKey string, embedded bool, witnessKeys []string, quorum int, rootKey string) (*trust, error) {
	t := &trust{}
	switch {
	case logKey == "" && !embedded:
		return nil, errors.New("no log key pinned: pass -log-key NAME+KEYID+KEY; -trust-embedded-keys checks a bundle against its own keys (integrity, not origin)")
	case logKey != "" && embedded:
		return nil, errors.New("a log key is pinned and the bundle's own keys are to be trusted: give one or the other")
	case logKey != "":
		key, err := parseVerifierKey(logKey)
		if errors.Is(err, errNotIntl) {
			return nil, fmt.Errorf("cannot verify with the pinned log key: %v", err)
		} else if err != nil {
			return nil, fmt.Errorf("the pinned log key is malformed: %v", err)
		}
		t.logKey = key
	}
	if rootKey != "" {
		key, err := decodeBase64(rootKey)
		if err != nil {
			return nil, errors.New("the pinned root key is not standard base64")
		}
		t.rootKey = key
	}
	seen := map[string]*verifierKey{}
	for _, text := range witnessKeys {
		witness, err := parseVerifierKey(text)
		if err != nil {
			return nil, fmt.Errorf("witness key %q is malformed: %v", text, err)
		}
		if held := seen[witness.String()]; held != nil && !held.equal(witness) {
			return nil, fmt.Errorf("two different witness keys are named %s", witness)
		} else if held == nil {
			seen[witness.String()] = witness
			t.witnesses = append(t.witnesses, witness)
		}
	}
	t.quorum = len(t.witnesses)
	if quorum >= 0 {
		if quorum < 1 || quorum > len(t.witnesses) {
			return nil, fmt.Errorf("a witness quorum of %d cannot be met by the %d distinct witness key(s) given: it must be between 1 and %d",
				quorum, len(t.witnesses), len(t.witnesses))
		}
		t.quorum = quorum
	}
	return t, nil
}

type keyRecord struct {
	keyID, actor, suite   string
	publicKey             []byte
	registeredAt, revoked string // revoked: "" when not revoked
}

func (k *keyRecord) validAt(recordedAt string) bool {
	return k.registeredAt <= recordedAt && (k.revoked == "" || recordedAt < k.revoked)
}

// verification holds one run over one bundle: what was established and what failed.
type verification struct {
	b          *bundle
	trust      *trust
	failures   []failure
	checkpoint *signedCheckpoint
	logKey     *verifierKey // the key the checkpoint was checked against
	witnesses  []string     // pinned witnesses whose cosignature verified
	unchecked  []string     // cosignature lines of keys not given
	keys       map[string]*keyRecord
	signatures int
	signers    map[string]int // actor → entries signed
	documents  int
	complete   bool                   // step 9 proved each stream ends at its head
	heads      map[string]*streamHead // the heads proven, by member name
	cosignedAt int64                  // newest verified cosignature/v1 time; -1: none
	warnings   []string
}

func (v *verification) fail(step int, check, where, format string, args ...any) {
	v.failures = append(v.failures, failure{step, check, where, fmt.Sprintf(format, args...)})
}

func verifyBundle(b *bundle, t *trust) *verification {
	v := &verification{b: b, trust: t, keys: map[string]*keyRecord{}, signers: map[string]int{},
		heads: map[string]*streamHead{}, cosignedAt: -1}
	v.step2Checkpoint()
	v.step3Inclusion()
	v.step4Hashes()
	v.step5Chains()
	v.step6Signatures()
	v.step7Documents()
	v.step9Heads()
	return v
}

func (b *bundle) items() []*item { return append(append([]*item{}, b.entries...), b.registry...) }

// Step 2: the checkpoint note, its log signature under the pinned key (or, explicitly, the
// bundle's own), and the witness quorum (C2SP signed-note, tlog-checkpoint, tlog-cosignature).
func (v *verification) step2Checkpoint() {
	cp, err := parseCheckpoint(v.b.checkpoint)
	if err != nil {
		v.fail(2, "checkpoint", "", "the checkpoint note is malformed: %v", err)
		return
	}
	v.checkpoint = cp
	if cp.origin != v.b.origin {
		v.fail(2, "checkpoint", "", "the checkpoint is for origin %q, the bundle for %q", cp.origin, v.b.origin)
	}
	shipped, err := parseVerifierKey(v.b.logKey)
	if err != nil {
		v.fail(2, "log-key", "", "the bundle's log_key is malformed: %v", err)
	}
	v.logKey = shipped
	if pinned := v.trust.logKey; pinned != nil {
		if shipped == nil || !shipped.equal(pinned) {
			v.fail(2, "log-key", "", "the bundle names log key %q, but %s is pinned: refusing a bundle of another log",
				v.b.logKey, pinned)
		}
		v.logKey = pinned
	}
	if v.logKey == nil {
		return
	}
	if v.logKey.kind != typeEd25519 {
		v.fail(2, "log-key", "", "the log key %s is not an Ed25519 (0x01) key", v.logKey)
	}
	if err := cp.verifyBy(v.logKey); err != nil {
		v.fail(2, "checkpoint-signature", "", "the checkpoint is not validly signed by log key %s: %v", v.logKey, err)
	}
	known := map[string]bool{v.logKey.String(): true}
	var absent []string
	for _, witness := range v.trust.witnesses {
		known[witness.String()] = true
		if !cp.hasLineBy(witness) {
			absent = append(absent, witness.String())
		} else if err := cp.verifyBy(witness); err != nil {
			v.fail(2, "witness", "", "the cosignature of checkpoint %d by pinned witness %s does not verify", cp.size, witness)
			absent = append(absent, witness.String())
		} else {
			v.witnesses = append(v.witnesses, witness.String())
			v.noteCosignedAt(witness)
		}
	}
	if len(v.witnesses) < v.trust.quorum {
		v.fail(2, "witness", "", "checkpoint %d is cosigned by %d of the %d pinned witnesses, %d required; not signed: %s",
			cp.size, len(v.witnesses), len(v.trust.witnesses), v.trust.quorum, strings.Join(absent, ", "))
	}
	for _, line := range cp.lines {
		if id := fmt.Sprintf("%s+%08x", line.name, line.keyID); !known[id] {
			v.unchecked = append(v.unchecked, id)
		}
	}
}

// Step 3: RFC 9162 §2.1.3.2 inclusion of every item at its leaf index, the leaf data being
// the 32 bytes of the entry hash, against the checkpoint's size and root (tlog.CheckRecord).
func (v *verification) step3Inclusion() {
	if v.checkpoint == nil {
		v.fail(3, "inclusion", "", "no checkpoint to prove the entries against")
		return
	}
	claimed := map[int64]string{}
	for _, it := range v.b.items() {
		if other, seen := claimed[it.leafIndex]; seen {
			v.fail(3, "inclusion", it.where(), "leaf %d is claimed twice (also by %s)", it.leafIndex, other)
			continue
		}
		claimed[it.leafIndex] = it.where()
		if it.leafIndex >= v.checkpoint.size {
			v.fail(3, "inclusion", it.where(), "not included in checkpoint %d: leaf %d is beyond its size",
				v.checkpoint.size, it.leafIndex)
			continue
		}
		var entryHash [32]byte
		hex.Decode(entryHash[:], []byte(it.hash))
		leaf := tlog.RecordHash(entryHash[:]) // H(0x00 ‖ entry hash)
		if err := tlog.CheckRecord(it.proof, v.checkpoint.size, v.checkpoint.root, it.leafIndex, leaf); err != nil {
			v.fail(3, "inclusion", it.where(), "not included in checkpoint %d: the inclusion proof does not lead to its root (%v)",
				v.checkpoint.size, err)
		}
	}
}

// entryHash is SHA-256(JCS(entry)) in hex, recomputed from the parsed JSON.
func entryHash(raw any) (string, error) {
	canonical, err := canonicalJSON(raw)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:]), nil
}

// Step 4: every entry hash is SHA-256(JCS(entry)).
func (v *verification) step4Hashes() {
	for _, it := range v.b.items() {
		recomputed, err := entryHash(it.raw)
		if err != nil {
			v.fail(4, "entry-hash", it.where(), "the entry cannot be canonicalised: %v", err)
		} else if recomputed != it.hash {
			v.fail(4, "entry-hash", it.where(), "the entry hashes to %s…, the item says %s… (the entry was edited)",
				recomputed[:16], it.hash[:16])
		}
	}
}

// Step 5: seq 1, 2, … and prev links in the project stream and in the registry stream,
// increasing leaf indexes, the right stream and ledger; recorded_at never decreasing in leaf
// order and not after as_known_at.
func (v *verification) step5Chains() {
	registryStream := uuid5(registryNamespace, v.b.origin)
	v.chain(v.b.entries, v.b.stream, "entries")
	v.chain(v.b.registry, registryStream, "registry")
	if v.b.stream == registryStream {
		v.fail(5, "stream", "", "the bundle's stream is the key registry, not a project")
	}
	var ordered []*item
	for _, it := range v.b.items() {
		if it.entry != nil {
			ordered = append(ordered, it)
		}
	}
	sort.SliceStable(ordered, func(i, j int) bool { return ordered[i].leafIndex < ordered[j].leafIndex })
	for i, it := range ordered {
		if i > 0 && it.entry.recordedAt < ordered[i-1].entry.recordedAt {
			v.fail(5, "time", it.where(), "recorded_at %s is before %s of leaf %d, an earlier leaf",
				it.entry.recordedAt, ordered[i-1].entry.recordedAt, ordered[i-1].leafIndex)
		}
		if v.b.asKnownAt != "" && it.entry.recordedAt > v.b.asKnownAt {
			v.fail(5, "time", it.where(), "recorded_at %s is after the bundle's as_known_at %s",
				it.entry.recordedAt, v.b.asKnownAt)
		}
	}
}

func (v *verification) chain(items []*item, stream, section string) {
	prevHash, prevLeaf := zeroHash, int64(-1)
	for position, it := range items {
		e := it.entry
		if e == nil {
			prevHash = it.hash // reported in step 1; keep checking the rest
			continue
		}
		if e.filing.stream != stream {
			v.fail(5, "stream", it.where(), "the entry belongs to stream %s, expected %s", e.filing.stream, stream)
		}
		if e.filing.ledger != v.b.origin {
			v.fail(5, "stream", it.where(), "the entry was filed for ledger %q, not %q", e.filing.ledger, v.b.origin)
		}
		if e.seq != int64(position+1) {
			v.fail(5, "chain", it.where(), "%s[%d] has seq %d, expected %d (entries missing, added or reordered)",
				section, position, e.seq, position+1)
		}
		if e.prev != prevHash {
			v.fail(5, "chain", it.where(), "prev %s… is not the hash of the entry before (%s…)", e.prev[:16], prevHash[:16])
		}
		if it.leafIndex <= prevLeaf {
			v.fail(5, "chain", it.where(), "leaf %d does not follow leaf %d of the entry before", it.leafIndex, prevLeaf)
		}
		prevLeaf = it.leafIndex
		if recomputed, err := entryHash(it.raw); err == nil {
			prevHash = recomputed
		} else {
			prevHash = it.hash
		}
	}
}

// Step 6: registry entries filed by root with the root key and signed by it; the registry
// folded into keys (registered at their entry's recorded_at, revocations from the whole
// registry); each project entry signed, over JCS(filing), by a key of its actor valid at its
// recorded_at.
func (v *verification) step6Signatures() {
	rootKeyID, rootPublic := v.rootKey()
	for _, it := range v.b.registry {
		if it.entry == nil {
			continue
		}
		f := it.entry.filing
		if rootPublic != nil {
			if f.actor != rootActor || f.key != rootKeyID {
				v.fail(6, "registry-signature", it.where(), "registry entry filed by %q with key %q, not the root key %q",
					f.actor, f.key, rootKeyID)
			} else {
				v.checkSignature(it, rootPublic, "registry-signature")
			}
		}
		v.applyRegistry(it)
	}
	for _, it := range v.b.entries {
		if key := v.authorKey(it); key != nil && v.checkSignature(it, key.publicKey, "author-signature") {
			v.signers[key.actor]++
		}
	}
}

func (v *verification) rootKey() (string, []byte) {
	shipped := v.b.rootKey
	public, err := decodeBase64(shipped.publicKey)
	switch {
	case err != nil:
		v.fail(6, "root-key", "", "root_key.public_key is not standard base64")
	case shipped.suite != "ed25519":
		v.fail(6, "root-key", "", "the root key is %s, but profile intl signs with ed25519", shipped.suite)
	case v.trust.rootKey != nil && string(v.trust.rootKey) != string(public):
		v.fail(6, "root-key", "", "the bundle's root key is not the pinned root key")
	default:
		return shipped.keyID, public
	}
	return "", nil
}

func (v *verification) checkSignature(it *item, public []byte, check string) bool {
	f := it.entry.filing
	signed, err := canonicalJSON(f.raw)
	signature, decodeErr := decodeBase64(it.entry.signature)
	if err != nil || decodeErr != nil || len(public) != ed25519.PublicKeySize ||
		!ed25519.Verify(public, signed, signature) {
		v.fail(6, check, it.where(), "the %s signature by %q (key %q) does not verify over JCS(filing)", f.kind, f.actor, f.key)
		return false
	}
	v.signatures++
	return true
}

// applyRegistry folds one registry entry (ActorRegistered, KeyRegistered, KeyRevoked).
func (v *verification) applyRegistry(it *item) {
	f := it.entry.filing
	text := func(name string) string { s, _ := f.payload[name].(string); return s }
	switch f.kind {
	case "ActorRegistered":
	case "KeyRegistered":
		keyID := text("key_id")
		public, err := decodeBase64(text("public_key"))
		switch {
		case keyID == "" || text("actor") == "" || text("suite") == "" || err != nil:
			v.fail(6, "registry", it.where(), "the KeyRegistered payload needs key_id, actor, suite and base64 public_key")
		case v.keys[keyID] != nil:
			v.fail(6, "registry", it.where(), "key %q is registered twice", keyID)
		default:
			v.keys[keyID] = &keyRecord{keyID: keyID, actor: text("actor"), suite: text("suite"),
				publicKey: public, registeredAt: it.entry.recordedAt}
		}
	case "KeyRevoked":
		key := v.keys[text("key_id")]
		switch {
		case key == nil:
			v.fail(6, "registry", it.where(), "revokes unknown key %q", text("key_id"))
		case !timePattern.MatchString(text("revoked_from")):
			v.fail(6, "registry", it.where(), "revoked_from must be RFC 3339 UTC with microseconds")
		default:
			key.revoked = text("revoked_from")
		}
	default:
		v.fail(6, "registry", it.where(), "%s is not a registry event", f.kind)
	}
}

// authorKey is the registered key that must have signed a project entry, or nil (failed).
func (v *verification) authorKey(it *item) *keyRecord {
	if it.entry == nil {
		return nil
	}
	f, recordedAt := it.entry.filing, it.entry.recordedAt
	key := v.keys[f.key]
	switch {
	case key == nil:
		v.fail(6, "author-key", it.where(), "signed with key %q, which the registry does not hold", f.key)
	case key.actor != f.actor:
		v.fail(6, "author-key", it.where(), "key %q is %q's, not %q's", f.key, key.actor, f.actor)
	case !key.validAt(recordedAt):
		why := "registered only at " + key.registeredAt
		if key.revoked != "" && recordedAt >= key.revoked {
			why = "revoked from " + key.revoked
		}
		v.fail(6, "author-key", it.where(), "key %q was not valid at %s (%s)", f.key, recordedAt, why)
	case key.suite != "ed25519":
		v.fail(6, "author-key", it.where(), "key %q is %s, not ed25519", f.key, key.suite)
	default:
		return key
	}
	return nil
}

// Step 7: the documents the project entries reference are shipped as documents/<sha256> and
// hash to their names; nothing else is shipped. Without the catalogue's types, a reference is
// any payload string of exactly 64 lowercase hex digits (the catalogue's only such type is
// DocumentRef; tests/tools/test_verify_go.py checks that on its examples).
func (v *verification) step7Documents() {
	referenced := map[string]string{}
	for _, it := range v.b.entries {
		if it.entry != nil {
			collectHashes(it.entry.filing.payload, func(sha string) {
				if _, seen := referenced[sha]; !seen {
					referenced[sha] = it.where()
				}
			})
		}
	}
	names := make([]string, 0, len(referenced))
	for name := range referenced {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		digest, shipped := v.b.documents[name]
		if !shipped {
			v.fail(7, "documents", referenced[name], "document %s is referenced but not shipped as documents/%s", name, name)
		} else if digest != name {
			v.fail(7, "documents", referenced[name], "documents/%s does not hash to its name (the document was altered)", name)
		}
	}
	var extra []string
	for name := range v.b.documents {
		if _, ok := referenced[name]; !ok {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		v.fail(7, "documents", "", "documents/%s is shipped but no entry references it", name)
	}
	unnamed := []string{}
	for _, name := range v.b.named {
		if _, ok := referenced[name]; !ok {
			unnamed = append(unnamed, name)
		}
	}
	sort.Strings(unnamed)
	for _, name := range unnamed {
		v.fail(7, "documents", "", "names.json names %s, which no entry references and is not shipped", name)
	}
	v.documents = len(referenced)
}

func collectHashes(value any, found func(string)) {
	switch v := value.(type) {
	case string:
		if hex64Pattern.MatchString(v) {
			found(v)
		}
	case []any:
		for _, item := range v {
			collectHashes(item, found)
		}
	case map[string]any:
		for _, item := range v {
			collectHashes(item, found)
		}
	}
}

// uuid5 is RFC 4122 §4.3 with SHA-1, as Python's uuid.uuid5.
func uuid5(namespace [16]byte, name string) string {
	sum := sha1.Sum(append(namespace[:], name...))
	sum[6] = sum[6]&0x0f | 0x50
	sum[8] = sum[8]&0x3f | 0x80
	h := hex.EncodeToString(sum[:16])
	return strings.Join([]string{h[:8], h[8:12], h[12:16], h[16:20], h[20:32]}, "-")
}
