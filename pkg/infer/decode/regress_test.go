package decode

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

// Found by internal/malformed's table: DecodeConfig wrapped the
// UnsupportedError of an animated WebP into a FormatError, so the error was
// of the wrong type and read "invalid WebP: decode: unsupported WebP: ...".
func TestRegressionAnimatedWebPNotWrapped(t *testing.T) {
	data := []byte("RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	binary.LittleEndian.PutUint32(data[4:], uint32(len(data)-8))
	for name, f := range map[string]func([]byte) error{
		"Decode":       func(b []byte) error { _, err := Decode(b, Limits{}); return err },
		"DecodeConfig": func(b []byte) error { _, err := DecodeConfig(b); return err },
	} {
		err := f(data)
		_, ok := err.(*UnsupportedError)
		require.True(t, ok, "%s: got %T: %v", name, err, err)
		require.EqualError(t, err, "decode: unsupported WebP: animated WebP (only still images are supported)", name)
	}
}
