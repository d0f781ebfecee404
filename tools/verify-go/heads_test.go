package main

import (
	"encoding/hex"
	"os"
	"testing"
)

// The stream heads map vectors of tests/vectors/headmap/intl.json (made by the Python
// implementation): every proof there verifies here, and every claim that must fail fails.
func TestHeadMapVectors(t *testing.T) {
	data, err := os.ReadFile("../../tests/vectors/headmap/intl.json")
	if err != nil {
		t.Fatalf("the vectors: %v", err)
	}
	value, err := parseJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	vectors := value.(map[string]any)
	check := func(kind string, list any, wantOK bool) int {
		count := 0
		for _, entry := range list.([]any) {
			v := entry.(map[string]any)
			stream := v["stream"].(string)
			var root [32]byte
			if _, err := hex.Decode(root[:], []byte(v["root"].(string))); err != nil {
				t.Fatal(err)
			}
			var head *streamHead
			if v["head"] != nil {
				if head, err = parseHead(v["head"]); err != nil {
					t.Fatalf("%s %s: %v", kind, stream, err)
				}
			}
			proof, err := parseHeadProof(v["proof"])
			if err != nil {
				if wantOK {
					t.Fatalf("%s %s: %v", kind, stream, err)
				}
				count++
				continue
			}
			err = verifyHead(root, stream, head, proof)
			if (err == nil) != wantOK {
				t.Errorf("%s %v: verified %v, want %v (%v)", kind, v["why"], err == nil, wantOK, err)
			}
			count++
		}
		return count
	}
	if n := check("proof", vectors["proofs"], true); n < 10 {
		t.Errorf("only %d proofs", n)
	}
	if n := check("must_fail", vectors["must_fail"], false); n < 5 {
		t.Errorf("only %d claims that must fail", n)
	}
}

func TestHeadsRootLine(t *testing.T) {
	cp := &signedCheckpoint{extensions: []string{"other line", "heads 0cHpGmEnfXbDGfX9CDBs9nKCCYthKsD+fFIAcA4w6k4="}}
	root, err := cp.headsRoot()
	if err != nil || hex.EncodeToString(root[:]) != "d1c1e91a61277d76c319f5fd08306cf67282098b612ac0fe7c5200700e30ea4e" {
		t.Fatalf("root %x, %v", root, err)
	}
	for _, lines := range [][]string{
		nil,
		{"heads 0cHpGmEnfXbDGfX9CDBs9nKCCYthKsD+fFIAcA4w6k4=", "heads 0cHpGmEnfXbDGfX9CDBs9nKCCYthKsD+fFIAcA4w6k4="},
		{"heads 0cHpGmEnfXbDGfX9CDBs9nKCCYthKsD+fFIAcA4w6k5="}, // not canonical
		{"heads  0cHpGmEnfXbDGfX9CDBs9nKCCYthKsD+fFIAcA4w6k4="},
		{"heads AAAA"},
	} {
		if _, err := (&signedCheckpoint{extensions: lines}).headsRoot(); err == nil {
			t.Errorf("%q: accepted", lines)
		}
	}
}
