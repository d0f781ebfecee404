package main

// Checkpoints: C2SP signed notes (c2sp.org/signed-note) in the tlog-checkpoint format
// (c2sp.org/tlog-checkpoint), and the verifier keys that sign them.
//
// golang.org/x/mod/sumdb/note verifies the signatures (note.Open). It knows one key type,
// Ed25519 (0x01), which is what the log and this project's witnesses use. What it lacks is
// written here, following the C2SP specs:
//   - the checkpoint body (origin, size, root, extension lines), which x/mod does not parse;
//   - strict parsing of the signature lines (canonical base64), as the Python verifier does;
//   - Ed25519 cosignature/v1 witness keys (type 0x04, c2sp.org/tlog-cosignature): the
//     signature is an 8-byte big-endian timestamp then Ed25519 over
//     "cosignature/v1\ntime <timestamp>\n" followed by the checkpoint body;
//   - checking every line of a known key, not only the first one (x/mod skips repeats).
// SM2 keys (0xff ‖ "sm2-sm3/…", profile gm) are refused: this tool verifies intl only.

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// C2SP signed-note §Signature types.
const (
	typeEd25519     = 0x01
	typeCosignature = 0x04
	typeOther       = 0xff // followed by a longer identifier, e.g. "sm2-sm3/1234567812345678"
)

// errNotIntl: a key of another signature suite than Ed25519 (SM2: profile gm).
var errNotIntl = errors.New("this tool verifies only the intl profile (Ed25519); use `ledger verify-bundle`")

const maxSignatures = 100 // signed-note: MUST accept at least 16; x/mod stops at 100

var (
	keyIDPattern = regexp.MustCompile(`^[0-9a-f]{8}$`)
	sizePattern  = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)
)

// verifierKey is a parsed C2SP verifier key NAME+KEYIDHEX+BASE64(TYPE ‖ PUBLIC KEY).
type verifierKey struct {
	name     string
	keyID    uint32
	kind     byte
	public   []byte
	verifier note.Verifier
}

func (k *verifierKey) String() string { return fmt.Sprintf("%s+%08x", k.name, k.keyID) }

func (k *verifierKey) equal(other *verifierKey) bool {
	return k.name == other.name && k.keyID == other.keyID && k.kind == other.kind &&
		string(k.public) == string(other.public)
}

// parseVerifierKey parses and checks a verifier key: a valid name, 8 lowercase hex digits
// that are the key's own ID (SHA-256(name ‖ 0x0A ‖ type ‖ key)[:4]), canonical base64, and a
// key type this tool verifies (Ed25519 0x01, or Ed25519 cosignature/v1 0x04).
func parseVerifierKey(text string) (*verifierKey, error) {
	parts := strings.SplitN(text, "+", 3)
	if len(parts) != 3 {
		return nil, fmt.Errorf("not NAME+KEYID+KEY: %q", text)
	}
	name, idHex, keyB64 := parts[0], parts[1], parts[2]
	if err := checkKeyName(name); err != nil {
		return nil, err
	}
	if !keyIDPattern.MatchString(idHex) {
		return nil, fmt.Errorf("the key ID is not 8 lowercase hex digits: %q", idHex)
	}
	encoded, err := decodeCanonicalBase64(keyB64)
	if err != nil || len(encoded) == 0 {
		return nil, fmt.Errorf("the key of %q is not canonical base64", name)
	}
	id, _ := strconv.ParseUint(idHex, 16, 32)
	if want := keyID(name, encoded); uint32(id) != want {
		return nil, fmt.Errorf("the key ID of %q does not match its key: expected %08x", name, want)
	}
	key := &verifierKey{name: name, keyID: uint32(id), kind: encoded[0], public: encoded[1:]}
	switch key.kind {
	case typeEd25519, typeCosignature:
	case typeOther:
		return nil, fmt.Errorf("%q is a %q key: %w", name,
			strings.SplitN(string(encoded[1:]), "/", 2)[0], errNotIntl)
	default:
		return nil, fmt.Errorf("%q has an unknown signature type 0x%02x", name, key.kind)
	}
	if len(key.public) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("the public key of %q is %d bytes, not 32", name, len(key.public))
	}
	if key.kind == typeCosignature {
		key.verifier = &cosignatureVerifier{name, key.keyID, ed25519.PublicKey(key.public)}
	} else if key.verifier, err = note.NewVerifier(text); err != nil {
		return nil, err
	}
	return key, nil
}

// keyID is signed-note's key ID: the first 4 bytes of SHA-256(name ‖ 0x0A ‖ type ‖ key).
func keyID(name string, typeAndKey []byte) uint32 {
	sum := sha256.Sum256(append([]byte(name+"\n"), typeAndKey...))
	return binary.BigEndian.Uint32(sum[:4])
}

func checkKeyName(name string) error {
	if name == "" || strings.IndexFunc(name, unicode.IsSpace) >= 0 || strings.Contains(name, "+") ||
		strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return fmt.Errorf("invalid key name %q: non-empty, no spaces, no '+'", name)
	}
	return nil
}

// cosignatureVerifier is a note.Verifier for c2sp.org/tlog-cosignature Ed25519 keys (0x04).
type cosignatureVerifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (v *cosignatureVerifier) Name() string    { return v.name }
func (v *cosignatureVerifier) KeyHash() uint32 { return v.hash }

// Verify checks a timestamped_signature (u64 timestamp ‖ 64-byte Ed25519 signature) over
// "cosignature/v1\ntime <timestamp>\n" ‖ the checkpoint body.
func (v *cosignatureVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	timestamp := binary.BigEndian.Uint64(sig[:8])
	if timestamp > math.MaxInt64 {
		return false
	}
	message := fmt.Sprintf("cosignature/v1\ntime %d\n%s", timestamp, msg)
	return ed25519.Verify(v.key, []byte(message), sig[8:])
}

// signedCheckpoint is a parsed checkpoint note: the body's fields and the signature lines.
type signedCheckpoint struct {
	text       string // the whole note
	body       string // the signed text: origin, size, root (and extension lines), each ending "\n"
	origin     string
	size       int64
	root       tlog.Hash
	extensions []string // the lines after the root (the stream heads map's "heads" line)
	lines      []signatureLine
}

type signatureLine struct {
	name      string
	keyID     uint32
	signature []byte
}

// parseCheckpoint parses a signed checkpoint note strictly (signed-note §Format,
// tlog-checkpoint §Note text); it checks no signature.
func parseCheckpoint(text string) (*signedCheckpoint, error) {
	if !utf8.ValidString(text) {
		return nil, errors.New("the note is not valid UTF-8")
	}
	for _, r := range text {
		if r < 0x20 && r != '\n' {
			return nil, fmt.Errorf("the note contains control character U+%04X", r)
		}
	}
	split := strings.LastIndex(text, "\n\n")
	if split < 0 {
		return nil, errors.New("the note has no blank line before its signatures")
	}
	body, block := text[:split+1], text[split+2:]
	if !strings.HasSuffix(block, "\n") {
		return nil, errors.New("the note does not end with a signature line and a newline")
	}
	cp := &signedCheckpoint{text: text, body: body}
	for _, line := range strings.Split(strings.TrimSuffix(block, "\n"), "\n") {
		parsed, err := parseSignatureLine(line)
		if err != nil {
			return nil, err
		}
		cp.lines = append(cp.lines, parsed)
	}
	if len(cp.lines) > maxSignatures {
		return nil, fmt.Errorf("the note has %d signature lines, at most %d", len(cp.lines), maxSignatures)
	}
	fields := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	if len(fields) < 3 {
		return nil, fmt.Errorf("the checkpoint has %d lines: expected origin, size and root", len(fields))
	}
	for i, field := range fields {
		if field == "" {
			return nil, fmt.Errorf("checkpoint line %d is empty", i+1)
		}
	}
	cp.origin = fields[0]
	if !sizePattern.MatchString(fields[1]) {
		return nil, fmt.Errorf("the checkpoint size is not a decimal without leading zeros: %q", fields[1])
	}
	size, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("the checkpoint size %s is out of range", fields[1])
	}
	cp.size = size
	root, err := decodeCanonicalBase64(fields[2])
	if err != nil || len(root) != tlog.HashSize {
		return nil, fmt.Errorf("the checkpoint root is not canonical base64 of 32 bytes: %q", fields[2])
	}
	copy(cp.root[:], root)
	cp.extensions = fields[3:]
	return cp, nil
}

func parseSignatureLine(line string) (signatureLine, error) {
	rest := strings.TrimPrefix(line, "\u2014 ")
	if rest == line {
		return signatureLine{}, fmt.Errorf("a signature line does not start with an em dash and a space: %q", line)
	}
	name, encoded, found := strings.Cut(rest, " ")
	if !found {
		return signatureLine{}, fmt.Errorf("a signature line is not '— NAME SIGNATURE': %q", line)
	}
	if err := checkKeyName(name); err != nil {
		return signatureLine{}, err
	}
	raw, err := decodeCanonicalBase64(encoded)
	if err != nil || len(raw) <= 4 {
		return signatureLine{}, fmt.Errorf("the signature by %q is not canonical base64 of a key ID and a signature", name)
	}
	return signatureLine{name, binary.BigEndian.Uint32(raw[:4]), raw[4:]}, nil
}

// hasLineBy reports whether the note has a signature line by key (its name and key ID).
func (cp *signedCheckpoint) hasLineBy(key *verifierKey) bool {
	for _, line := range cp.lines {
		if line.name == key.name && line.keyID == key.keyID {
			return true
		}
	}
	return false
}

// verifyBy checks the note's signature by one trusted key: note.Open with that key alone
// (signed-note §Signatures: lines of other keys are ignored, a bad line of this key rejects
// the note), then every further line of the same key, which x/mod does not look at.
func (cp *signedCheckpoint) verifyBy(key *verifierKey) error {
	_, err := note.Open([]byte(cp.text), note.VerifierList(key.verifier))
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case errors.As(err, &unverified):
		return fmt.Errorf("no signature by %s", key)
	case errors.As(err, &invalid):
		return fmt.Errorf("the signature by %s does not verify", key)
	case err != nil:
		return fmt.Errorf("the note is malformed: %v", err)
	}
	for _, line := range cp.lines {
		if line.name == key.name && line.keyID == key.keyID &&
			!key.verifier.Verify([]byte(cp.body), line.signature) {
			return fmt.Errorf("a repeated signature line by %s does not verify", key)
		}
	}
	return nil
}

// decodeCanonicalBase64 decodes standard padded base64 that re-encodes to the same text
// (no whitespace, no non-zero trailing bits): one value, one spelling.
func decodeCanonicalBase64(text string) ([]byte, error) {
	data, err := base64.StdEncoding.Strict().DecodeString(text)
	if err != nil || base64.StdEncoding.EncodeToString(data) != text {
		return nil, errors.New("not canonical base64")
	}
	return data, nil
}

// decodeBase64 decodes standard padded base64 as Python's b64decode(validate=True) does:
// trailing bits are not checked, but no character outside the alphabet (newlines included).
func decodeBase64(text string) ([]byte, error) {
	if strings.ContainsAny(text, "\r\n") {
		return nil, errors.New("not standard base64")
	}
	return base64.StdEncoding.DecodeString(text)
}
