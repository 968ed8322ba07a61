//go:build js && wasm

package main

import (
	"errors"
	"fmt"

	"github.com/veil-ml/veil/pkg/infer/decode"
)

// Error codes, the code property of the Errors the bridge rejects with.
const (
	codeBadModel = "VEIL_BAD_MODEL" // the model file cannot be read
	codeBadImage = "VEIL_BAD_IMAGE" // the image bytes cannot be decoded, or exceed the limits
	codeBadInput = "VEIL_BAD_INPUT" // a wrong argument (type, pixel buffer size)
	codeDisposed = "VEIL_DISPOSED"  // the model has been disposed
	codeFetch    = "VEIL_FETCH"     // the model file could not be downloaded
	codeInternal = "VEIL_INTERNAL"  // a bug: a recovered panic
)

// veilError is an error with a code for JavaScript.
type veilError struct {
	code string
	msg  string // starts with "veil: "
	err  error
}

func (e *veilError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *veilError) Unwrap() error { return e.err }

func newError(code string, err error, format string, args ...any) *veilError {
	return &veilError{code: code, msg: "veil: " + fmt.Sprintf(format, args...), err: err}
}

var errDisposed = newError(codeDisposed, nil, "model has been disposed")

// errorCode returns the code for err: its own, or codeInternal.
func errorCode(err error) string {
	var ve *veilError
	if errors.As(err, &ve) {
		return ve.code
	}
	return codeInternal
}

// imageError explains a failure to classify encoded image bytes.
func imageError(err error) error {
	var (
		fe *decode.FormatError
		ue *decode.UnsupportedError
		le *decode.LimitError
	)
	if errors.As(err, &fe) || errors.As(err, &ue) || errors.As(err, &le) {
		return newError(codeBadImage, err, "cannot read the image")
	}
	return newError(codeInternal, err, "classify")
}
