package decode

import (
	"fmt"
	"strings"
)

// FormatError reports that the input is not a valid image: corrupt, truncated,
// or not in any format this package reads.
type FormatError struct {
	Format string // "jpeg", "png", "gif", "webp", or "" when the format is unknown.
	Msg    string // what was wrong.
	Err    error  // underlying decoder error, if any.
}

func (e *FormatError) Error() string {
	var b strings.Builder
	b.WriteString("decode: ")
	if e.Format != "" {
		b.WriteString("invalid ")
		b.WriteString(formatName(e.Format))
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		if e.Msg != "" {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *FormatError) Unwrap() error { return e.Err }

// UnsupportedError reports a valid image that uses a feature this package
// does not implement (for example an animated WebP).
type UnsupportedError struct {
	Format string
	Msg    string
	Err    error
}

func (e *UnsupportedError) Error() string {
	s := "decode: unsupported " + formatName(e.Format) + ": " + e.Msg
	if e.Err != nil {
		if e.Msg != "" {
			s += ": "
		}
		s += e.Err.Error()
	}
	return s
}

func (e *UnsupportedError) Unwrap() error { return e.Err }

// LimitError reports an input refused because it exceeds a Limits field.
// It is returned before any pixel memory is allocated.
type LimitError struct {
	Limit string // "bytes", "pixels", "width", "height" or "scans".
	Value int64  // the input's value.
	Max   int64  // the limit it exceeded.
	W, H  int    // image size from the header; 0 for "bytes".
}

func (e *LimitError) Error() string {
	switch e.Limit {
	case "bytes":
		return fmt.Sprintf("decode: file is %d bytes, limit is %d bytes", e.Value, e.Max)
	case "pixels":
		return fmt.Sprintf("decode: image is %dx%d (%d pixels), limit is %d pixels", e.W, e.H, e.Value, e.Max)
	case "width", "height":
		return fmt.Sprintf("decode: image is %dx%d, %s %d exceeds the limit of %d", e.W, e.H, e.Limit, e.Value, e.Max)
	case "scans":
		return fmt.Sprintf("decode: JPEG has %d scans, limit is %d scans", e.Value, e.Max)
	}
	return fmt.Sprintf("decode: %s is %d, limit is %d", e.Limit, e.Value, e.Max)
}

func formatName(f string) string {
	switch f {
	case "jpeg":
		return "JPEG"
	case "png":
		return "PNG"
	case "gif":
		return "GIF"
	case "webp":
		return "WebP"
	}
	return "image"
}
