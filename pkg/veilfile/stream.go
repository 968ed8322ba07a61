package veilfile

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"

	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/safetensors"
)

// streamBuffer is ReadFrom's read size for small tensors; larger ones are
// read straight into their buffers.
const streamBuffer = 64 << 10

// ReadFrom reads a .veil file of size bytes from src, checking all that
// Read checks, but one tensor at a time: the file is never held whole, so
// loading needs the model's memory and not also the file's (in wasm, where
// memory never shrinks, that is the file's size off the peak for good).
// It inflates with compress/flate and hashes with crypto/sha256 as it goes.
//
// The checksum is known only once the last byte is read. When the file
// fails a check before then, ReadFrom still reads the rest, and reports a
// checksum mismatch, as Read would, if the file is corrupted. An error from
// src itself is returned as it is, wrapped, and stops the read.
func ReadFrom(src io.Reader, size int) (*infer.QNet, *Meta, error) {
	if size < 0 {
		return nil, nil, formatErr("file size %d is negative", size)
	}
	s := &stream{r: bufio.NewReaderSize(io.LimitReader(src, int64(size)), streamBuffer), size: size}
	q, m, err := s.read()
	if err != nil && s.sum != "" && !errors.As(err, new(*sourceError)) {
		if err2 := s.drain(); err2 != nil {
			return nil, nil, err2
		}
	}
	return q, m, err
}

// stream is ReadFrom's state: where it is in the file, and the checksum so far.
type stream struct {
	r    *bufio.Reader
	size int
	off  int       // bytes read
	h    hash.Hash // the checksum's SHA-256: the header, its checksum zeroed, then each byte read
	sum  string    // the stored checksum, once the header is read
}

// sourceError is a failure of ReadFrom's src, as opposed to its content.
type sourceError struct {
	off int
	err error
}

func (e *sourceError) Error() string {
	return fmt.Sprintf("veilfile: reading byte %d: %v", e.off, e.err)
}
func (e *sourceError) Unwrap() error { return e.err }

// fill reads len(dst) bytes, hashing them once the header is known.
func (s *stream) fill(dst []byte) error {
	n, err := io.ReadFull(s.r, dst)
	if s.h != nil {
		s.h.Write(dst[:n])
	}
	s.off += n
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return formatErr("the file ends at byte %d of the %d it should have (truncated, or changed while read?)", s.off, s.size)
	case err != nil:
		return &sourceError{s.off, err}
	}
	return nil
}

// drain reads the rest of the file after a failed check and returns the
// checksum mismatch if there is one (nil if the checksum holds).
func (s *stream) drain() error {
	if s.h == nil {
		return nil
	}
	n, err := io.Copy(s.h, s.r)
	s.off += int(n)
	if err != nil || s.off != s.size {
		return nil // the error already returned says enough
	}
	return s.checkSum()
}

// checkSum compares the checksum of what was read with the stored one.
func (s *stream) checkSum() error {
	var digest [32]byte
	return checkSum(s.sum, [32]byte(s.h.Sum(digest[:0])))
}

func (s *stream) read() (*infer.QNet, *Meta, error) {
	// The magic and version first, as Read checks them: then the header.
	head := make([]byte, min(s.size, 8+len(Magic)+len(versionPrefix)+12))
	if err := s.fill(head); err != nil {
		return nil, nil, err
	}
	if err := checkPrefix(head); err != nil {
		return nil, nil, err
	}
	hl, err := safetensors.HeaderLen(head, s.size, limits)
	if err != nil {
		return nil, nil, fmt.Errorf("veilfile: %w", err)
	}
	if hl < len(head) { // the magic and version alone are longer than the header
		return nil, nil, formatErr("header of %d bytes is too short for the metadata", hl-8)
	}
	have := len(head)
	head = append(head, make([]byte, hl-have)...)
	if err := s.fill(head[have:]); err != nil {
		return nil, nil, err
	}
	f, err := safetensors.ParseHeader(head, s.size, limits)
	if err != nil {
		return nil, nil, fmt.Errorf("veilfile: %w", err)
	}
	sum, pos, err := checksumEntry(f, head)
	if err != nil {
		return nil, nil, err
	}
	s.sum, s.h = sum, sha256.New()
	s.h.Write(head[:pos])
	s.h.Write([]byte(zeroSum))
	s.h.Write(head[pos+64:])

	r := newReader(f, s.size, true)
	q, m, err := r.decode()
	if err != nil {
		return nil, nil, err
	}
	if err := r.checkUsed(); err != nil {
		return nil, nil, err
	}
	// Every tensor is used once and they tile the data buffer, so in file
	// order the fills read it from start to end.
	slices.SortFunc(r.fills, func(a, b fill) int { return a.t.Offsets[0] - b.t.Offsets[0] })
	var (
		inf     inflater
		largest int
	)
	for _, fl := range r.fills {
		if fl.deflated {
			largest = max(largest, fl.t.Offsets[1]-fl.t.Offsets[0])
		}
	}
	scratch := make([]byte, largest) // one compressed tensor at a time
	for _, fl := range r.fills {
		if at := hl + fl.t.Offsets[0]; at != s.off {
			return nil, nil, formatErr("tensor %q starts at byte %d, but the read is at %d", fl.t.Name, at, s.off)
		}
		if !fl.deflated {
			if err := s.fill(fl.dst); err != nil {
				return nil, nil, err
			}
			continue
		}
		n := fl.t.Offsets[1] - fl.t.Offsets[0]
		if err := s.fill(scratch[:n]); err != nil {
			return nil, nil, err
		}
		if err := inf.inflate(Inflation{Name: fl.t.Name, Src: scratch[:n], Dst: fl.dst}); err != nil {
			return nil, nil, formatErr("%v", err)
		}
	}
	if err := s.checkSum(); err != nil {
		return nil, nil, err
	}
	s.h = nil // checked: nothing for ReadFrom to drain
	return r.finish(q, m)
}
