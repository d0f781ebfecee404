// Command verify-go is a second, independent verifier of the audit ledger's evidence bundles
// (docs/evidence-format.md), profile intl: checkpoint and witness signatures, entry hashes,
// RFC 9162 inclusion proofs, chains, author and registry signatures, documents, and (format 2)
// completeness: the stream heads map proofs of the project's and the registry's heads.
//
//	verify-go -log-key VKEY [-witness-key VKEY]... [-quorum N] [-root-key B64] BUNDLE.zip
//	verify-go -trust-embedded-keys [...] BUNDLE.zip   (the bundle's own log key: integrity only)
//	verify-go -jcs < value.json                        (print the RFC 8785 form of a JSON value)
//
// Exit status: 0 verified ("OK …" on stdout), 1 rejected ("REJECTED …" on stderr), 2 not
// verifiable by this tool (unusable pinned keys, unreadable file, profile gm, bad usage).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// repeated collects a repeatable flag.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("verify-go", flag.ContinueOnError)
	flags.SetOutput(stderr)
	var witnesses repeated
	logKey := flags.String("log-key", "", "the log's pinned verifier key NAME+KEYID+BASE64 (log_key of `ledger init --json`)")
	embedded := flags.Bool("trust-embedded-keys", false, "no pinned log key: check the bundle against the key it carries (integrity, not origin)")
	flags.Var(&witnesses, "witness-key", "a pinned witness verifier key NAME+KEYID+BASE64 (repeatable; type 0x01 or cosignature/v1 0x04)")
	quorum := flags.Int("quorum", -1, "how many distinct pinned witnesses must have cosigned (default: all)")
	rootKey := flags.String("root-key", "", "the pinned registry root public key, base64 (root_public_key of `ledger init --json`)")
	jcs := flags.Bool("jcs", false, "read one JSON value on stdin and print its RFC 8785 canonical form")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: verify-go -log-key VKEY [-witness-key VKEY]... [-quorum N] [-root-key B64] BUNDLE.zip")
		fmt.Fprintln(stderr, "       verify-go -jcs < value.json")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if *jcs {
		return canonicalise(stdin, stdout, stderr)
	}
	if flags.NArg() != 1 {
		flags.Usage()
		return 2
	}
	t, err := resolveTrust(*logKey, *embedded, witnesses, *quorum, *rootKey)
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 2
	}
	file, err := os.Open(flags.Arg(0))
	var info os.FileInfo
	if err == nil {
		defer file.Close()
		if info, err = file.Stat(); err == nil && !info.Mode().IsRegular() {
			err = errors.New("not a regular file")
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "error: cannot read the bundle: %v\n", err)
		return 2
	}
	b, problems, err := readBundle(file, info.Size())
	var unsupported *unsupportedError
	switch {
	case errors.As(err, &unsupported) && t.logKey != nil:
		// The pinned key is Ed25519: a bundle of another profile is not of that log.
		reject(stderr, []failure{{2, "log-key", "", "the pinned log key is ed25519 (profile intl), but the bundle is of profile gm (sm2-sm3)"}})
		return 1
	case errors.As(err, &unsupported):
		fmt.Fprintf(stderr, "error: cannot verify: %v\n", err)
		return 2
	case err != nil:
		reject(stderr, []failure{{1, "format", "", err.Error()}})
		return 1
	}
	if t.logKey == nil {
		fmt.Fprintln(stderr, "warning: -trust-embedded-keys: checking the bundle against the keys it carries itself; this proves it is intact, not that it comes from your log")
	}
	v := verifyBundle(b, t)
	if failures := append(problems, v.failures...); len(failures) > 0 {
		reject(stderr, failures)
		return 1
	}
	v.summary(stdout)
	return 0
}

func reject(stderr io.Writer, failures []failure) {
	fmt.Fprintf(stderr, "REJECTED: %d check(s) failed; first:\n", len(failures))
	for _, f := range failures {
		fmt.Fprintf(stderr, "  %s\n", f)
	}
}

func canonicalise(stdin io.Reader, stdout, stderr io.Writer) int {
	data, err := io.ReadAll(stdin)
	if err == nil {
		var value any
		if value, err = parseJSON(data); err == nil {
			if data, err = canonicalJSON(value); err == nil {
				stdout.Write(data)
				return 0
			}
		}
	}
	fmt.Fprintf(stderr, "not canonicalisable: %v\n", err)
	return 1
}

func (v *verification) summary(out io.Writer) {
	b, cp := v.b, v.checkpoint
	pin := "pinned"
	if v.trust.logKey == nil {
		pin = "NOT pinned: the bundle's own key, which proves integrity, not origin"
	}
	root := "pinned"
	if v.trust.rootKey == nil {
		root = "from the bundle, checked by the log"
	}
	first, last := "", ""
	for _, it := range b.items() {
		if t := it.entry.recordedAt; first == "" || t < first {
			first = t
		}
		if t := it.entry.recordedAt; t > last {
			last = t
		}
	}
	var signers []string
	for actor, count := range v.signers {
		signers = append(signers, fmt.Sprintf("%s ×%d", actor, count))
	}
	sort.Strings(signers)
	fmt.Fprintf(out, "OK: project %s on log %s (intl), verified by verify-go\n", b.stream, b.origin)
	fmt.Fprintf(out, "  checkpoint: size %d, root %x, signed by log key %s (%s)\n", cp.size, cp.root[:], v.logKey, pin)
	if len(v.witnesses) > 0 {
		fmt.Fprintf(out, "  cosigned by witness(es): %s (%d of %d pinned, %d required)\n",
			strings.Join(v.witnesses, ", "), len(v.witnesses), len(v.trust.witnesses), v.trust.quorum)
	}
	if len(v.unchecked) > 0 {
		fmt.Fprintf(out, "  other cosignatures present (no key given, not checked): %s\n", strings.Join(v.unchecked, ", "))
	}
	fmt.Fprintf(out, "  %d project entries (seq 1–%d) and %d registry entries: each included in the checkpoint (RFC 9162), hashed (SHA-256 of JCS), chained, time-ordered\n",
		len(b.entries), len(b.entries), len(b.registry))
	fmt.Fprintf(out, "  recorded %s … %s\n", first, last)
	fmt.Fprintf(out, "  %d Ed25519 signatures verified: registry by root key %s (%s); authors under keys valid at each entry's recorded_at\n",
		v.signatures, b.rootKey.keyID, root)
	fmt.Fprintf(out, "  signers: %s\n", strings.Join(signers, "; "))
	fmt.Fprintf(out, "  %d documents match their SHA-256\n", v.documents)
	if v.complete {
		asOf, source := v.completeAsOf()
		fmt.Fprintf(out, "  complete as of checkpoint %d (%s %s): each stream ends at its head in the stream heads map (%s)\n",
			cp.size, source, asOf, v.headsSummary())
	}
	fmt.Fprintln(out, "  not checked by verify-go: step 8 (projections, the Measures' rules); which role may file which event type, and payload schemas (the catalogue)")
	for _, warning := range v.warnings {
		fmt.Fprintf(out, "warning: %s\n", warning)
	}
}
