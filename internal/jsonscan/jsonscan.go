package jsonscan

import (
	"strconv"
	"unicode/utf8"
)

// MaxDepth is how deeply objects and arrays may nest.
const MaxDepth = 64

// A Scanner reads the JSON values of one document in order. Each method
// reads one value (skipping the whitespace before it) or fails; after an
// error the Scanner is not to be used again.
type Scanner struct {
	data  []byte
	pos   int
	depth int
}

// New returns a Scanner at the start of data.
func New(data []byte) *Scanner { return &Scanner{data: data} }

// SyntaxError is a failure to read the wanted value.
type SyntaxError struct {
	Offset int // byte offset in the document where reading failed
	Msg    string
}

func (e *SyntaxError) Error() string {
	return "at byte " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

// Fail returns a SyntaxError at the current position: for callers whose
// own checks of a value fail (an array of the wrong length).
func (s *Scanner) Fail(msg string) error { return &SyntaxError{Offset: s.pos, Msg: msg} }

// wanted fails, naming what was found at the current position.
func (s *Scanner) wanted(what string) error {
	if s.pos >= len(s.data) {
		return s.Fail("want " + what + ", found the end of the input")
	}
	return s.Fail("want " + what + ", found " + strconv.QuoteRune(rune(s.data[s.pos])))
}

func (s *Scanner) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next byte after whitespace, or 0 at the end.
func (s *Scanner) peek() byte {
	s.space()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// End checks that only whitespace is left.
func (s *Scanner) End() error {
	if s.peek() != 0 || s.pos < len(s.data) {
		return s.Fail("want the end of the input, found " + strconv.QuoteRune(rune(s.data[s.pos])))
	}
	return nil
}

// Object reads an object, calling member with each key in order; member
// must read that key's value (with one of the Scanner's methods) or fail.
func (s *Scanner) Object(member func(key string) error) error {
	if s.peek() != '{' {
		return s.wanted("an object")
	}
	if err := s.enter(); err != nil {
		return err
	}
	if s.peek() == '}' {
		return s.leave()
	}
	for {
		if s.peek() != '"' {
			return s.wanted("a string key")
		}
		key, err := s.String()
		if err != nil {
			return err
		}
		if s.peek() != ':' {
			return s.wanted("':' after the key")
		}
		s.pos++
		if err := member(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			return s.leave()
		default:
			return s.wanted("',' or '}'")
		}
	}
}

// Array reads an array, calling elem with each index in order; elem must
// read that element or fail.
func (s *Scanner) Array(elem func(i int) error) error {
	if s.peek() != '[' {
		return s.wanted("an array")
	}
	if err := s.enter(); err != nil {
		return err
	}
	if s.peek() == ']' {
		return s.leave()
	}
	for i := 0; ; i++ {
		if err := elem(i); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			return s.leave()
		default:
			return s.wanted("',' or ']'")
		}
	}
}

func (s *Scanner) enter() error {
	if s.depth == MaxDepth {
		return s.Fail("objects and arrays nest more than " + strconv.Itoa(MaxDepth) + " deep")
	}
	s.depth++
	s.pos++
	return nil
}

func (s *Scanner) leave() error {
	s.depth--
	s.pos++
	return nil
}

// Null reads a null if one is next, and reports whether it did.
func (s *Scanner) Null() bool {
	if s.peek() == 'n' && s.literal("null") {
		return true
	}
	return false
}

// literal consumes word if the input continues with it.
func (s *Scanner) literal(word string) bool {
	if len(s.data)-s.pos >= len(word) && string(s.data[s.pos:s.pos+len(word)]) == word {
		s.pos += len(word)
		return true
	}
	return false
}

// Skip reads any one value.
func (s *Scanner) Skip() error {
	switch c := s.peek(); c {
	case '{':
		return s.Object(func(string) error { return s.Skip() })
	case '[':
		return s.Array(func(int) error { return s.Skip() })
	case '"':
		_, err := s.String()
		return err
	case 't', 'f', 'n':
		if s.literal("true") || s.literal("false") || s.literal("null") {
			return nil
		}
	default:
		if c == '-' || c >= '0' && c <= '9' {
			_, _, err := s.number()
			return err
		}
	}
	return s.wanted("a value")
}

// Int reads a number written as an integer (no fraction or exponent) that
// fits in an int64.
func (s *Scanner) Int() (int64, error) {
	start := s.pos
	lit, integer, err := s.number()
	if err != nil {
		return 0, err
	}
	v, ok := parseInt(lit)
	if !integer || !ok {
		s.pos = start
		return 0, s.Fail("want an integer, found " + string(lit))
	}
	return v, nil
}

// parseInt is strconv.ParseInt(lit, 10, 64) for a literal number() read
// as an integer: a loop small enough to stay cheap in wasm.
func parseInt(lit []byte) (int64, bool) {
	neg := lit[0] == '-'
	if neg {
		lit = lit[1:]
	}
	var u uint64
	for _, c := range lit {
		if u > (1<<64-1)/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
		if u < uint64(c-'0') {
			return 0, false
		}
	}
	switch {
	case !neg && u <= 1<<63-1:
		return int64(u), true
	case neg && u <= 1<<63:
		return -int64(u), true
	}
	return 0, false
}

// Float reads a number as a float of the given bit size (32 or 64), as
// strconv.ParseFloat rounds it.
func (s *Scanner) Float(bitSize int) (float64, error) {
	start := s.pos
	lit, _, err := s.number()
	if err != nil {
		return 0, err
	}
	v, perr := strconv.ParseFloat(string(lit), bitSize)
	if perr != nil {
		s.pos = start
		return 0, s.Fail("number " + string(lit) + " is out of range")
	}
	return v, nil
}

// number reads a number's literal: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
// integer reports whether it has neither fraction nor exponent.
func (s *Scanner) number() (lit []byte, integer bool, err error) {
	if c := s.peek(); c != '-' && (c < '0' || c > '9') {
		return nil, false, s.wanted("a number")
	}
	start := s.pos
	if s.data[s.pos] == '-' {
		s.pos++
	}
	switch {
	case s.pos < len(s.data) && s.data[s.pos] == '0':
		s.pos++
	case !s.digits():
		return nil, false, s.wanted("a digit")
	}
	integer = true
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		if !s.digits() {
			return nil, false, s.wanted("a digit after '.'")
		}
		integer = false
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if !s.digits() {
			return nil, false, s.wanted("a digit in the exponent")
		}
		integer = false
	}
	return s.data[start:s.pos], integer, nil
}

// digits consumes [0-9]+ and reports whether there was at least one.
func (s *Scanner) digits() bool {
	start := s.pos
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
	}
	return s.pos > start
}

// String reads a string.
func (s *Scanner) String() (string, error) {
	if s.peek() != '"' {
		return "", s.wanted("a string")
	}
	s.pos++
	start := s.pos
	// Fast path: printable ASCII without escapes, as keys and names are.
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		if c == '"' {
			s.pos++
			return string(s.data[start : s.pos-1]), nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		s.pos++
	}
	buf := append([]byte(nil), s.data[start:s.pos]...)
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return string(buf), nil
		case c < 0x20:
			return "", s.Fail("control character " + strconv.QuoteRune(rune(c)) + " in a string")
		case c == '\\':
			r, err := s.escape()
			if err != nil {
				return "", err
			}
			buf = utf8.AppendRune(buf, r)
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			s.pos++
		default:
			r, n := utf8.DecodeRune(s.data[s.pos:])
			buf = utf8.AppendRune(buf, r) // utf8.RuneError for invalid bytes, as encoding/json
			s.pos += n
		}
	}
	return "", s.Fail("string is not terminated")
}

// escape reads one backslash escape and returns its rune; a \u escape that
// is half of a surrogate pair takes the other half with it.
func (s *Scanner) escape() (rune, error) {
	if s.pos+1 >= len(s.data) {
		s.pos = len(s.data)
		return 0, s.Fail("string is not terminated")
	}
	c := s.data[s.pos+1]
	s.pos += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, err := s.hex4()
		if err != nil {
			return 0, err
		}
		if r < 0xd800 || r > 0xdfff {
			return r, nil
		}
		// A high surrogate followed by a low one is one rune; anything
		// else is U+FFFD, and what follows is read on its own.
		if r <= 0xdbff && s.pos+1 < len(s.data) && s.data[s.pos] == '\\' && s.data[s.pos+1] == 'u' {
			save := s.pos
			s.pos += 2
			lo, err := s.hex4()
			if err != nil {
				return 0, err
			}
			if lo >= 0xdc00 && lo <= 0xdfff {
				return 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00), nil
			}
			s.pos = save
		}
		return utf8.RuneError, nil
	}
	s.pos -= 2
	return 0, s.Fail("invalid escape " + strconv.Quote(string(s.data[s.pos:s.pos+2])) + " in a string")
}

func (s *Scanner) hex4() (rune, error) {
	if len(s.data)-s.pos < 4 {
		return 0, s.Fail("\\u needs four hex digits")
	}
	var r rune
	for _, c := range s.data[s.pos : s.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, s.Fail("\\u needs four hex digits")
		}
		r = r<<4 | rune(c)
	}
	s.pos += 4
	return r, nil
}
