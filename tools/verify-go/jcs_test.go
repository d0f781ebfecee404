package main

import (
	"strings"
	"testing"
)

func canonicalOf(t *testing.T, input string) string {
	t.Helper()
	value, err := parseJSON([]byte(input))
	if err != nil {
		t.Fatalf("parseJSON(%q): %v", input, err)
	}
	out, err := canonicalJSON(value)
	if err != nil {
		t.Fatalf("canonicalJSON(%q): %v", input, err)
	}
	return string(out)
}

// RFC 8785 §3.2.3, the sorting example (tests/ledger/test_canonical.py SORTING_INPUT): keys
// sort by UTF-16 code units, so the emoji (high surrogate 0xD83D) sorts before U+FB33.
func TestRFC8785Sorting(t *testing.T) {
	input := `{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh",` +
		`"1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}`
	want := "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\"," +
		"\"\u00f6\":\"Latin Small Letter O With Diaeresis\",\"\u20ac\":\"Euro Sign\"," +
		"\"\U0001f600\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}"
	if got := canonicalOf(t, input); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// RFC 8785 §3.2.2.2 string serialisation (tests/ledger/test_canonical.py STRING_INPUT/OUTPUT).
func TestRFC8785Strings(t *testing.T) {
	input := `{"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}`
	want := `{"literals":[null,true,false],"string":"€$\u000f\nA'B\"\\\\\"/"}`
	if got := canonicalOf(t, input); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestCanonicalForms(t *testing.T) {
	for input, want := range map[string]string{
		` [ 1 , -0 , 9007199254740991, -9007199254740991 ] `: `[1,0,9007199254740991,-9007199254740991]`,
		`{"b":{},"a":[],"c":""}`:                             `{"a":[],"b":{},"c":""}`,
		`"\u2028\u007f\u001f\b\t\f"`:                         "\"\u2028\u007f\\u001f\\b\\t\\f\"",
		`{"aa":1,"a":2,"b":3,"":4}`:                          `{"":4,"a":2,"aa":1,"b":3}`,
		`"<>&"`:                                              `"<>&"`,
	} {
		if got := canonicalOf(t, input); got != want {
			t.Errorf("%s: got %s, want %s", input, got, want)
		}
	}
}

func TestRefusesWhatTheFormatCannotHold(t *testing.T) {
	for _, input := range []string{
		`1.5`, `1e3`, `1E3`, `0.0`, `9007199254740992`, `-9007199254740992`, `NaN`, `Infinity`,
		`{"a":1,"a":2}`, `"\ud800"`, `"\udc00"`, `"\ud800\u0041"`, "\"\x01\"", `01`, `-`,
		`[1,]`, `{"a":1,}`, `{}{}`, "\xff", `"\x"`, strings.Repeat("[", 65) + strings.Repeat("]", 65),
	} {
		if value, err := parseJSON([]byte(input)); err == nil {
			t.Errorf("%q parsed as %v, want a refusal", input, value)
		}
	}
	deep := strings.Repeat("[", 64) + strings.Repeat("]", 64)
	if _, err := parseJSON([]byte(deep)); err != nil {
		t.Errorf("64 levels of nesting refused: %v", err)
	}
}
