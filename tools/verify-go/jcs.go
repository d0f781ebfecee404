package main

// Strict JSON parsing and RFC 8785 (JCS) canonical bytes, for the JSON that entries contain.
//
// docs/evidence-format.md §Canonical bytes: there are no floats anywhere (money is integer
// fen, dates and times are strings) and integers beyond ±(2^53−1) are refused. So a JSON value
// here is one of: nil, bool, int64, string, []any, map[string]any — and RFC 8785's number
// serialisation (ECMAScript Number.prototype.toString) reduces to the integer's decimal digits.

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxSafeInteger is 2^53−1: every integer we hash must be exact as an IEEE 754 double.
const maxSafeInteger = 1<<53 - 1

// maxDepth bounds the nesting of arrays and objects (`[[]]` is 2), as the Python verifier's
// limit does; a real bundle nests about 8 deep.
const maxDepth = 64

// parseJSON parses one JSON value strictly: UTF-8, no duplicate object keys, no floats or
// exponents, integers within ±(2^53−1), no lone surrogates, nothing after the value.
func parseJSON(data []byte) (any, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("not valid UTF-8")
	}
	p := &jsonParser{data: data}
	p.space()
	value, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.data) {
		return nil, p.errorf("unexpected data after the JSON value")
	}
	return value, nil
}

type jsonParser struct {
	data []byte
	pos  int
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("JSON offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *jsonParser) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// value parses the value at p.pos, inside depth arrays and objects.
func (p *jsonParser) value(depth int) (any, error) {
	if p.pos >= len(p.data) {
		return nil, p.errorf("unexpected end of input")
	}
	c := p.data[p.pos]
	if (c == '{' || c == '[') && depth+1 > maxDepth {
		return nil, p.errorf("arrays and objects nested more than %d deep", maxDepth)
	}
	switch {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		return p.string()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case bytes.HasPrefix(p.data[p.pos:], []byte("true")):
		p.pos += 4
		return true, nil
	case bytes.HasPrefix(p.data[p.pos:], []byte("false")):
		p.pos += 5
		return false, nil
	case bytes.HasPrefix(p.data[p.pos:], []byte("null")):
		p.pos += 4
		return nil, nil
	default:
		return nil, p.errorf("unexpected character %q", c)
	}
}

func (p *jsonParser) object(depth int) (any, error) {
	p.pos++ // '{'
	result := map[string]any{}
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return result, nil
	}
	for {
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.errorf("expected an object key")
		}
		key, err := p.string()
		if err != nil {
			return nil, err
		}
		if _, seen := result[key]; seen {
			return nil, p.errorf("duplicate key %q", key)
		}
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.errorf("expected ':' after key %q", key)
		}
		p.pos++
		p.space()
		value, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		result[key] = value
		p.space()
		if p.pos < len(p.data) && p.data[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.data) && p.data[p.pos] == '}' {
			p.pos++
			return result, nil
		}
		return nil, p.errorf("expected ',' or '}' in an object")
	}
}

func (p *jsonParser) array(depth int) (any, error) {
	p.pos++ // '['
	result := []any{}
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return result, nil
	}
	for {
		p.space()
		value, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		result = append(result, value)
		p.space()
		if p.pos < len(p.data) && p.data[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.data) && p.data[p.pos] == ']' {
			p.pos++
			return result, nil
		}
		return nil, p.errorf("expected ',' or ']' in an array")
	}
}

func (p *jsonParser) number() (any, error) {
	start := p.pos
	if p.data[p.pos] == '-' {
		p.pos++
	}
	digits := p.pos
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
		p.pos++
	}
	switch {
	case p.pos == digits:
		return nil, p.errorf("a number without digits")
	case p.data[digits] == '0' && p.pos-digits > 1:
		return nil, p.errorf("a number with a leading zero")
	}
	if p.pos < len(p.data) && bytes.IndexByte([]byte(".eE"), p.data[p.pos]) >= 0 {
		return nil, p.errorf("a float (%s…): the format has no floats", p.data[start:p.pos+1])
	}
	text := string(p.data[start:p.pos])
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n > maxSafeInteger || n < -maxSafeInteger {
		return nil, p.errorf("the integer %s is beyond ±2^53", text)
	}
	return n, nil
}

func (p *jsonParser) string() (string, error) {
	p.pos++ // '"'
	var out []byte
	for {
		if p.pos >= len(p.data) {
			return "", p.errorf("unterminated string")
		}
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(out), nil
		case c < 0x20:
			return "", p.errorf("control character U+%04X in a string", c)
		case c != '\\':
			out = append(out, c) // UTF-8 was checked as a whole
			p.pos++
			continue
		}
		if p.pos+1 >= len(p.data) {
			return "", p.errorf("unterminated escape")
		}
		escape := p.data[p.pos+1]
		p.pos += 2
		switch escape {
		case '"', '\\', '/':
			out = append(out, escape)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, err := p.unicodeEscape()
			if err != nil {
				return "", err
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", p.errorf("unknown escape \\%c", escape)
		}
	}
}

// unicodeEscape reads the XXXX of \uXXXX (and the low half of a surrogate pair).
func (p *jsonParser) unicodeEscape() (rune, error) {
	r, err := p.hex4()
	if err != nil {
		return 0, err
	}
	if utf16.IsSurrogate(r) {
		if r >= 0xdc00 || !bytes.HasPrefix(p.data[p.pos:], []byte(`\u`)) {
			return 0, p.errorf("a lone surrogate U+%04X", r)
		}
		p.pos += 2
		low, err := p.hex4()
		if err != nil {
			return 0, err
		}
		pair := utf16.DecodeRune(r, low)
		if pair == utf8.RuneError {
			return 0, p.errorf("a lone surrogate U+%04X", r)
		}
		return pair, nil
	}
	return r, nil
}

func (p *jsonParser) hex4() (rune, error) {
	if p.pos+4 > len(p.data) {
		return 0, p.errorf("a short \\u escape")
	}
	n, err := strconv.ParseUint(string(p.data[p.pos:p.pos+4]), 16, 32)
	if err != nil {
		return 0, p.errorf("a bad \\u escape")
	}
	p.pos += 4
	return rune(n), nil
}

// canonicalJSON returns the RFC 8785 canonical UTF-8 bytes of a value from parseJSON.
func canonicalJSON(value any) ([]byte, error) {
	var buffer bytes.Buffer
	if err := writeCanonical(&buffer, value); err != nil {
		return nil, err
	}
	return buffer.Bytes(), nil
}

func writeCanonical(out *bytes.Buffer, value any) error {
	switch v := value.(type) {
	case nil:
		out.WriteString("null")
	case bool:
		out.WriteString(strconv.FormatBool(v))
	case int64:
		if v > maxSafeInteger || v < -maxSafeInteger {
			return fmt.Errorf("the integer %d is beyond ±2^53", v)
		}
		out.WriteString(strconv.FormatInt(v, 10))
	case string:
		return writeCanonicalString(out, v)
	case []any:
		out.WriteByte('[')
		for i, item := range v {
			if i > 0 {
				out.WriteByte(',')
			}
			if err := writeCanonical(out, item); err != nil {
				return err
			}
		}
		out.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for key := range v {
			keys = append(keys, key)
		}
		// RFC 8785 §3.2.3: members sorted by their names as arrays of UTF-16 code units.
		sort.Slice(keys, func(i, j int) bool { return utf16Less(keys[i], keys[j]) })
		out.WriteByte('{')
		for i, key := range keys {
			if i > 0 {
				out.WriteByte(',')
			}
			if err := writeCanonicalString(out, key); err != nil {
				return err
			}
			out.WriteByte(':')
			if err := writeCanonical(out, v[key]); err != nil {
				return err
			}
		}
		out.WriteByte('}')
	default:
		return fmt.Errorf("a %T, which this format's JSON cannot hold", value)
	}
	return nil
}

// writeCanonicalString is RFC 8785 §3.2.2.2: escape '"', '\' and U+0000..U+001F (the five
// with short forms as \b \t \n \f \r, the rest as \u00xx in lowercase hex); every other
// character, U+007F and U+2028 included, is written as its UTF-8 bytes.
func writeCanonicalString(out *bytes.Buffer, s string) error {
	if !utf8.ValidString(s) {
		return errors.New("a string that is not valid UTF-8")
	}
	out.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			out.WriteString(`\"`)
		case '\\':
			out.WriteString(`\\`)
		case '\b':
			out.WriteString(`\b`)
		case '\t':
			out.WriteString(`\t`)
		case '\n':
			out.WriteString(`\n`)
		case '\f':
			out.WriteString(`\f`)
		case '\r':
			out.WriteString(`\r`)
		default:
			if r < 0x20 {
				fmt.Fprintf(out, `\u%04x`, r)
			} else {
				out.WriteRune(r)
			}
		}
	}
	out.WriteByte('"')
	return nil
}

// utf16Less orders strings by their UTF-16 code units (not by code points, which differs
// above U+FFFF: a surrogate 0xD83D sorts before U+FB33).
func utf16Less(a, b string) bool {
	x, y := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	for i := 0; i < len(x) && i < len(y); i++ {
		if x[i] != y[i] {
			return x[i] < y[i]
		}
	}
	return len(x) < len(y)
}
