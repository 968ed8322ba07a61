package decode

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"strings"

	"golang.org/x/image/webp"
)

// RGB is an 8-bit RGB image: row-major, 3 bytes per pixel, no padding.
// The pixel at column x, row y has channel c (0 R, 1 G, 2 B) at Pix[(y*W+x)*3+c].
type RGB struct {
	W, H int
	Pix  []uint8 // (H, W, 3)
}

// PixOffset returns the index of the R byte of pixel (x, y) in m.Pix.
func (m *RGB) PixOffset(x, y int) int { return (y*m.W + x) * 3 }

// Limits bounds what Decode accepts. A field ≤ 0 takes its value from
// DefaultLimits, so the zero Limits is DefaultLimits.
type Limits struct {
	MaxBytes            int64 // input file size
	MaxWidth, MaxHeight int   // each side, after EXIF orientation
	MaxPixels           int64 // width × height
}

// DefaultLimits accepts any ordinary photo (a 4000x3000 camera image is
// 12 megapixels) while bounding the memory one Decode can take: at 50 MP the
// RGB output is 150 MB and the largest decoder intermediate (16-bit RGBA PNG)
// is 400 MB. 16384 per side matches the canvas limit of several browsers.
var DefaultLimits = Limits{
	MaxBytes:  64 << 20,
	MaxWidth:  16384,
	MaxHeight: 16384,
	MaxPixels: 50_000_000,
}

// maxJPEGScans bounds progressive JPEG scans. Each scan walks every block of
// the image, so a small file with many near-empty scans is a CPU bomb;
// real encoders write about ten.
const maxJPEGScans = 1000

func (l Limits) orDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxWidth <= 0 {
		l.MaxWidth = DefaultLimits.MaxWidth
	}
	if l.MaxHeight <= 0 {
		l.MaxHeight = DefaultLimits.MaxHeight
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultLimits.MaxPixels
	}
	return l
}

// check returns a *LimitError if a w×h image is too large for l.
func (l Limits) check(w, h int) error {
	if px := int64(w) * int64(h); px > l.MaxPixels {
		return &LimitError{Limit: "pixels", Value: px, Max: l.MaxPixels, W: w, H: h}
	}
	if w > l.MaxWidth {
		return &LimitError{Limit: "width", Value: int64(w), Max: int64(l.MaxWidth), W: w, H: h}
	}
	if h > l.MaxHeight {
		return &LimitError{Limit: "height", Value: int64(h), Max: int64(l.MaxHeight), W: w, H: h}
	}
	return nil
}

// Config is what DecodeConfig learns from an image header.
type Config struct {
	Format      string // "jpeg", "png", "gif" or "webp"
	W, H        int    // size of the upright image, after EXIF orientation
	Orientation int    // EXIF orientation 1..8 that Decode applies; 1 if none
}

// storedSize returns the size of the image as stored, before orientation.
func (c Config) storedSize() (w, h int) {
	if c.Orientation >= 5 {
		return c.H, c.W
	}
	return c.W, c.H
}

var signatures = []struct {
	format, magic string
}{
	{"jpeg", "\xff\xd8\xff"},
	{"png", "\x89PNG\r\n\x1a\n"},
	{"gif", "GIF87a"},
	{"gif", "GIF89a"},
	{"webp", "RIFF"}, // "WEBP" at offset 8 is checked in sniff.
}

// sniff identifies the format from the leading bytes, as browsers do,
// ignoring any file name or MIME type.
func sniff(data []byte) (string, error) {
	if len(data) == 0 {
		return "", &FormatError{Msg: "empty input (0 bytes)"}
	}
	for _, s := range signatures {
		if s.format == "webp" {
			if bytes.HasPrefix(data, []byte("RIFF")) && len(data) >= 12 && string(data[8:12]) == "WEBP" {
				return "webp", nil
			}
			continue
		}
		if bytes.HasPrefix(data, []byte(s.magic)) {
			return s.format, nil
		}
		if len(data) < len(s.magic) && strings.HasPrefix(s.magic, string(data)) {
			return "", &FormatError{Format: s.format, Msg: fmt.Sprintf("truncated signature (%d bytes)", len(data))}
		}
	}
	if len(data) < 12 && strings.HasPrefix("RIFF", string(data[:min(len(data), 4)])) {
		return "", &FormatError{Format: "webp", Msg: fmt.Sprintf("truncated RIFF header (%d bytes)", len(data))}
	}
	head := data[:min(len(data), 8)]
	return "", &FormatError{Msg: fmt.Sprintf("unknown format: first bytes % x (%q) are not a JPEG, PNG, GIF or WebP signature", head, head)}
}

// DecodeConfig reads the image header: format, upright size and EXIF
// orientation. It allocates no pixel memory, so callers can refuse large
// images before calling Decode.
func DecodeConfig(data []byte) (cfg Config, err error) {
	format, err := sniff(data)
	if err != nil {
		return Config{}, err
	}
	defer func() {
		if r := recover(); r != nil {
			cfg, err = Config{}, &FormatError{Format: format, Msg: fmt.Sprintf("decoder panic on header: %v", r)}
		}
	}()
	var c image.Config
	r := bytes.NewReader(data)
	switch format {
	case "jpeg":
		c, err = jpeg.DecodeConfig(r)
	case "png":
		c, err = png.DecodeConfig(r)
	case "gif":
		c, err = gif.DecodeConfig(r)
	case "webp":
		if err = checkWebPFeatures(data); err == nil {
			c, err = webp.DecodeConfig(r)
		}
	}
	if err != nil {
		return Config{}, classify(format, err)
	}
	cfg = Config{Format: format, W: c.Width, H: c.Height, Orientation: 1}
	if cfg.W <= 0 || cfg.H <= 0 {
		return Config{}, &FormatError{Format: format, Msg: fmt.Sprintf("image has zero size %dx%d", cfg.W, cfg.H)}
	}
	if format == "jpeg" {
		cfg.Orientation = jpegOrientation(data)
		if cfg.Orientation >= 5 {
			cfg.W, cfg.H = cfg.H, cfg.W
		}
	}
	return cfg, nil
}

// Decode decodes a JPEG, PNG, GIF (first frame) or WebP image into the RGB
// pixels a browser canvas holds after drawing it: upright per EXIF
// orientation, alpha composited as described in the package documentation.
// It checks the file size and then the header size against lim before
// decoding any pixels. Errors are *FormatError, *UnsupportedError or
// *LimitError.
func Decode(data []byte, lim Limits) (m *RGB, err error) {
	lim = lim.orDefaults()
	if len(data) == 0 {
		return nil, &FormatError{Msg: "empty input (0 bytes)"}
	}
	if n := int64(len(data)); n > lim.MaxBytes {
		return nil, &LimitError{Limit: "bytes", Value: n, Max: lim.MaxBytes}
	}
	cfg, err := DecodeConfig(data)
	if err != nil {
		return nil, err
	}
	if err := lim.check(cfg.W, cfg.H); err != nil {
		return nil, err
	}
	if cfg.Format == "jpeg" {
		if n := jpegScanCount(data); n > maxJPEGScans {
			return nil, &LimitError{Limit: "scans", Value: int64(n), Max: maxJPEGScans, W: cfg.W, H: cfg.H}
		}
	}
	// Last line of defence: a decoder bug must not take the process down.
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, &FormatError{Format: cfg.Format, Msg: fmt.Sprintf("decoder panic: %v", r)}
		}
	}()

	r := bytes.NewReader(data)
	var img image.Image
	switch cfg.Format {
	case "jpeg":
		img, err = jpeg.Decode(r)
	case "png":
		img, err = png.Decode(r)
	case "gif":
		img, err = gif.Decode(r) // first frame only
	case "webp":
		img, err = webp.Decode(r)
	}
	if err != nil {
		return nil, classify(cfg.Format, err)
	}

	sw, sh := cfg.storedSize()
	if cfg.Format == "gif" {
		p, ok := img.(*image.Paletted)
		if !ok || !p.Rect.In(image.Rect(0, 0, sw, sh)) {
			return nil, &FormatError{Format: "gif", Msg: fmt.Sprintf("first frame %v does not fit the %dx%d screen", img.Bounds(), sw, sh)}
		}
		return gifToRGB(p, sw, sh), nil
	}
	if b := img.Bounds(); b.Dx() != sw || b.Dy() != sh {
		return nil, &FormatError{Format: cfg.Format, Msg: fmt.Sprintf("decoded size %dx%d differs from header size %dx%d", b.Dx(), b.Dy(), sw, sh)}
	}
	out := toRGB(img, cfg.Format == "webp")
	return applyOrientation(out, cfg.Orientation), nil
}

// classify wraps a standard-library or x/image decoder error into this
// package's error types.
func classify(format string, err error) error {
	var (
		fe *FormatError
		ue *UnsupportedError
		le *LimitError
		ju jpeg.UnsupportedError
		pu png.UnsupportedError
	)
	// Already ours (checkWebPFeatures): wrapping it again would turn an
	// UnsupportedError into a FormatError.
	if errors.As(err, &fe) || errors.As(err, &ue) || errors.As(err, &le) {
		return err
	}
	if errors.As(err, &ju) || errors.As(err, &pu) || strings.Contains(err.Error(), "not implemented") {
		return &UnsupportedError{Format: format, Err: err}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &FormatError{Format: format, Msg: "truncated data", Err: io.ErrUnexpectedEOF}
	}
	return &FormatError{Format: format, Err: err}
}
