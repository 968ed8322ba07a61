package jsonscan

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// value reads any value into the types encoding/json's interface{} uses,
// so the two decoders can be compared.
func value(s *Scanner) (any, error) {
	switch s.peek() {
	case '{':
		m := map[string]any{}
		err := s.Object(func(key string) error {
			v, err := value(s)
			m[key] = v
			return err
		})
		return m, err
	case '[':
		a := []any{}
		err := s.Array(func(int) error {
			v, err := value(s)
			a = append(a, v)
			return err
		})
		return a, err
	case '"':
		return s.String()
	case 't', 'f', 'n':
		switch {
		case s.literal("true"):
			return true, nil
		case s.literal("false"):
			return false, nil
		case s.Null():
			return nil, nil
		}
		return nil, s.wanted("a value")
	}
	if c := s.peek(); c != '-' && (c < '0' || c > '9') {
		return nil, s.wanted("a value")
	}
	return s.Float(64)
}

func decode(data string) (any, error) {
	s := New([]byte(data))
	v, err := value(s)
	if err == nil {
		err = s.End()
	}
	return v, err
}

func TestValues(t *testing.T) {
	for _, in := range []string{
		`{}`, `[]`, ` { "a" : [ 1 , -2.5e3 , true , false , null , "x" ] } `,
		`"plain"`, `"esc \" \\ \/ \b \f \n \r \t"`, `"\u00e9\u20ac"`, `"\ud83d\ude00"`,
		`"\ud83d"`, `"\ude00x"`, `"\ud83d\u0041"`, `"\ud83d\ud83d\ude00"`, "\"caf\xc3\xa9\"", "\"bad \xff utf8\"",
		`0`, `-0`, `1e5`, `1E+5`, `1.5e-3`, `123456789012345678901234567890`, `{"a":{"b":{"c":[[[]]]}}}`,
		`{"dup":1,"dup":2}`,
	} {
		var want any
		require.NoError(t, json.Unmarshal([]byte(in), &want), in)
		got, err := decode(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
}

func TestErrors(t *testing.T) {
	for _, c := range []struct{ in, msg string }{
		{``, "at byte 0: want a value, found the end of the input"},
		{`{"a":1,}`, `at byte 7: want a string key, found '}'`},
		{`{"a" 1}`, `at byte 5: want ':' after the key, found '1'`},
		{`[1 2]`, `at byte 3: want ',' or ']', found '2'`},
		{`[1,]`, `at byte 3: want a value, found ']'`},
		{`{"a":1} x`, `at byte 8: want the end of the input, found 'x'`},
		{`"abc`, `string is not terminated`},
		{"\"a\nb\"", `control character '\n' in a string`},
		{`"\x"`, `invalid escape "\\x"`},
		{`"\u12g4"`, `\u needs four hex digits`},
		{`01`, `want the end of the input, found '1'`},
		{`-`, `want a digit`},
		{`1.`, `want a digit after '.'`},
		{`1e+`, `want a digit in the exponent`},
		{`tru`, `want a value, found 't'`},
		{`1e999`, `number 1e999 is out of range`},
		{strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), "nest more than 64 deep"},
	} {
		_, err := decode(c.in)
		require.Error(t, err, c.in)
		assert.Contains(t, err.Error(), c.msg, c.in)
		assert.False(t, json.Valid([]byte(c.in)) && !strings.Contains(c.msg, "deep") && !strings.Contains(c.msg, "range"), "encoding/json accepts %q", c.in)
	}
	require.NoError(t, New([]byte(strings.Repeat("[", MaxDepth)+strings.Repeat("]", MaxDepth))).Skip())
}

func TestInt(t *testing.T) {
	for in, want := range map[string]int64{`0`: 0, `-7`: -7, ` 9223372036854775807`: 1<<63 - 1} {
		got, err := New([]byte(in)).Int()
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{`1.0`, `1e2`, `9223372036854775808`, `"1"`, `-`} {
		_, err := New([]byte(in)).Int()
		assert.Error(t, err, in)
	}
	f, err := New([]byte(`0.1`)).Float(32)
	require.NoError(t, err)
	assert.Equal(t, float64(float32(0.1)), f)
}

// FuzzScanner checks the Scanner against encoding/json: the same inputs
// are valid, and valid ones decode to the same values.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5,"x\u00e9",true,null]}`, `"\ud83d\ude00"`, `[1,]`, "\"\xff\"", `-0.0e+1`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decode(string(data))
		if err != nil {
			msg := err.Error()
			if strings.Contains(msg, "deep") || strings.Contains(msg, "out of range") {
				return // limits encoding/json does not have, or reports later
			}
			if json.Valid(data) {
				t.Fatalf("%q: encoding/json accepts it, Scanner says %v", data, err)
			}
			return
		}
		var want any
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("%q: Scanner accepts it, encoding/json says %v", data, err)
		}
		if !assert.ObjectsAreEqual(want, got) {
			t.Fatalf("%q: Scanner %#v, encoding/json %#v", data, got, want)
		}
	})
}

func TestParseIntMatchesStrconv(t *testing.T) {
	for _, in := range []string{"0", "-0", "7", "-7", "9223372036854775807", "-9223372036854775808",
		"9223372036854775808", "-9223372036854775809", "18446744073709551615", "18446744073709551616", "99999999999999999999"} {
		want, err := strconv.ParseInt(in, 10, 64)
		got, ok := parseInt([]byte(in))
		assert.Equal(t, err == nil, ok, in)
		if ok {
			assert.Equal(t, want, got, in)
		}
	}
}
