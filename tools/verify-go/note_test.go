package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// The worked example of docs/evidence-format.md: the log key, the checkpoint at size 8, and
// entries[1]'s inclusion proof (leaf 7) against its root.
const (
	exampleLogKey     = "ledger.gaoxin.example/projects+802b6dce+ARigqAclyL5y8M9H20ccPUJ1uqPNL4TGbJasDEQBvzUB"
	exampleCheckpoint = "ledger.gaoxin.example/projects\n8\ntKtTzf4JFeVqZfO+EUb2zbKwVCo0T1QE6MDM/Ue/M0s=\n\n" +
		"— ledger.gaoxin.example/projects gCttzqUFkgw78NndoMBhSvdsVdMVYN5+7HI4FyBcS4kahmyR11dLqWBniIFchJvsjZ83kIhS9k9daJoqFqpg3+9E0Aw=\n"
)

func TestWorkedExampleCheckpoint(t *testing.T) {
	key, err := parseVerifierKey(exampleLogKey)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := parseCheckpoint(exampleCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	if cp.origin != "ledger.gaoxin.example/projects" || cp.size != 8 {
		t.Errorf("parsed origin %q size %d", cp.origin, cp.size)
	}
	if err := cp.verifyBy(key); err != nil {
		t.Errorf("the worked example's checkpoint does not verify: %v", err)
	}
	forged, _ := parseCheckpoint(exampleCheckpoint[:35] + "9" + exampleCheckpoint[36:]) // size 9
	if forged == nil || forged.verifyBy(key) == nil {
		t.Error("a checkpoint with another size verified")
	}
}

func TestWorkedExampleInclusion(t *testing.T) {
	cp, _ := parseCheckpoint(exampleCheckpoint)
	var entryHash [32]byte
	hex.Decode(entryHash[:], []byte("1d4a7262e7e37d31bbb27ee336410fb00100b18f9e6580220c10946b1bc4c83c"))
	var proof tlog.RecordProof
	for _, node := range []string{
		"0615a07145dce3e9be56ede8d336cf5597d21a6447e5afa1a9af7feda3235a9c",
		"51a628cdafe28e9e6a3ebd50f41037aee2ed584d2d8dc879d269cb8f7e5805c2",
		"33fe66dfbb9e3fa065c2c23f5662b30629fee470069ea41e1024a692909d908c",
	} {
		var h tlog.Hash
		hex.Decode(h[:], []byte(node))
		proof = append(proof, h)
	}
	leaf := tlog.RecordHash(entryHash[:])
	if err := tlog.CheckRecord(proof, cp.size, cp.root, 7, leaf); err != nil {
		t.Errorf("the worked example's inclusion proof fails: %v", err)
	}
	if tlog.CheckRecord(proof[:2], cp.size, cp.root, 7, leaf) == nil ||
		tlog.CheckRecord(proof, cp.size, cp.root, 6, leaf) == nil {
		t.Error("a truncated proof or another leaf index passed")
	}
}

func TestVerifierKeysAreChecked(t *testing.T) {
	for _, text := range []string{
		"ledger.gaoxin.example/projects+802b6dcf+ARigqAclyL5y8M9H20ccPUJ1uqPNL4TGbJasDEQBvzUB", // wrong ID
		"ledger.gaoxin.example/projects+802B6DCE+ARigqAclyL5y8M9H20ccPUJ1uqPNL4TGbJasDEQBvzUB", // upper case
		"ledger.gaoxin.example/projects+802b6dce+ARigqAclyL5y8M9H20ccPUJ1uqPNL4TGbJasDEQBvzUC", // trailing bits
		"ledger.gaoxin.example/projects+802b6dce", "a b+00000000+AQ==",
	} {
		if _, err := parseVerifierKey(text); err == nil {
			t.Errorf("%q accepted", text)
		}
	}
}

// A cosignature/v1 line (c2sp.org/tlog-cosignature), type 0x04, made here by hand.
func TestCosignatureV1(t *testing.T) {
	public, private, _ := ed25519.GenerateKey(nil)
	name := "audit.example/witness"
	typed := append([]byte{typeCosignature}, public...)
	vkey := fmt.Sprintf("%s+%08x+%s", name, keyID(name, typed), base64.StdEncoding.EncodeToString(typed))
	key, err := parseVerifierKey(vkey)
	if err != nil {
		t.Fatal(err)
	}
	body := exampleCheckpoint[:len("ledger.gaoxin.example/projects\n8\ntKtTzf4JFeVqZfO+EUb2zbKwVCo0T1QE6MDM/Ue/M0s=\n")]
	line := func(timestamp uint64, signed uint64) string {
		sig := make([]byte, 12, 12+ed25519.SignatureSize)
		binary.BigEndian.PutUint32(sig, key.keyID)
		binary.BigEndian.PutUint64(sig[4:], timestamp)
		message := fmt.Sprintf("cosignature/v1\ntime %d\n%s", signed, body)
		sig = append(sig, ed25519.Sign(private, []byte(message))...)
		return "— " + name + " " + base64.StdEncoding.EncodeToString(sig) + "\n"
	}
	good, _ := parseCheckpoint(exampleCheckpoint + line(1679315147, 1679315147))
	if err := good.verifyBy(key); err != nil {
		t.Errorf("a valid cosignature/v1 line does not verify: %v", err)
	}
	bad, _ := parseCheckpoint(exampleCheckpoint + line(1679315148, 1679315147))
	if bad.verifyBy(key) == nil {
		t.Error("a cosignature with a changed timestamp verified")
	}
	other, _, _ := ed25519.GenerateKey(nil)
	otherTyped := append([]byte{typeCosignature}, other...)
	otherKey, err := parseVerifierKey(fmt.Sprintf("%s+%08x+%s", name, keyID(name, otherTyped),
		base64.StdEncoding.EncodeToString(otherTyped)))
	if err != nil {
		t.Fatal(err)
	}
	if !good.hasLineBy(key) || good.hasLineBy(otherKey) || good.verifyBy(otherKey) == nil {
		t.Error("another key of the same name was taken for the witness")
	}
}

func TestUUID5IsTheRegistryStream(t *testing.T) {
	// docs/evidence-format.md worked example: the registry stream of ledger.gaoxin.example/projects.
	if got := uuid5(registryNamespace, "ledger.gaoxin.example/projects"); got != "d03890d5-7ed5-5922-8310-1ee0d9fef1a7" {
		t.Errorf("got %s", got)
	}
}
