package veilfile

import (
	"bytes"
	"cmp"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/safetensors"
)

// Version is the newest format version; Read accepts 1 to Version. Encode
// writes the oldest version that holds the QNet, so that older readers
// still read what they can: version 1 for 8-bit activations, 2 (which adds
// veil.activation_bits) for 12-bit ones, 3 (which adds act.bits) for a mix.
const Version = 3

// Magic is the fixed start of every .veil header, at byte offset 8.
const Magic = `{"__metadata__":{"format":"veil",`

const versionPrefix = `"format_version":"`

// Preprocessing describes the input the models expect (infer.Preprocess).
const Preprocessing = "nsfwjs: RGB bytes/255 as float32, then tf.image.resizeBilinear to SxS with alignCorners=true (no crop, aspect ratio not kept) unless already SxS"

// Limits on what Read accepts.
const (
	MaxHeaderBytes = 64 << 20
	MaxTensors     = 1 << 16
	// MaxInflation bounds the decompressed bytes of a file: at most
	// MaxInflation times the file size (Write never compresses a tensor
	// more than this).
	MaxInflation = 16
)

const checksumKey = "veil.sha256"

var zeroSum = strings.Repeat("0", 64)

// Meta is the descriptive part of a .veil file.
type Meta struct {
	Version       int      // format version (set by Read)
	Architecture  string   // network name (QNet.Name)
	InputSize     int      // S (QNet.InputSize)
	Preprocessing string   // how images become the input
	Classes       []string // output classes (QNet.Classes)
	Source        string   // the float model the file was made from
	SourceSHA256  string   // its hash
	Adapters      []Adapter
	Calibration   string // how activation ranges were calibrated
}

// Adapter records one LoRA adapter merged into the weights before quantization.
type Adapter struct {
	Path   string  `json:"path"`
	SHA256 string  `json:"sha256"`
	Weight float64 `json:"weight"`
}

// Options tune Encode.
type Options struct {
	Raw bool // store every tensor uncompressed
}

// FormatError reports a file that is not a valid .veil file.
type FormatError string

func (e FormatError) Error() string { return "veilfile: " + string(e) }

// ErrNotVeil is wrapped by the error Read returns when the magic is wrong.
var ErrNotVeil = errors.New("veilfile: not a .veil file (wrong magic)")

// VersionError reports a .veil file of another format version.
type VersionError struct{ Version string }

func (e *VersionError) Error() string {
	return fmt.Sprintf("veilfile: format version %q is not supported (this reader knows version %d)", e.Version, Version)
}

func formatErr(format string, args ...any) error { return FormatError(fmt.Sprintf(format, args...)) }

// graphJSON is the "veil.graph" metadata entry.
type graphJSON struct {
	InputAffine [][2]float32 `json:"input_affine"` // [mul, add] per step
	Tensors     [][3]int     `json:"tensors"`      // [H, W, C] per tensor id
	Ops         []opJSON     `json:"ops"`
	Output      int          `json:"output"`
}

type opJSON struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	In     []int  `json:"in"`
	Out    int    `json:"out"`
	Window [4]int `json:"window"` // kh, kw, sh, sw
	Pad    [4]int `json:"pad"`    // top, bottom, left, right
	Act    string `json:"act"`
}

// opPrefix is "ops.%03d." without fmt, which the wasm load would otherwise
// make hot.
func opPrefix(i int) string {
	n := strconv.Itoa(i)
	if len(n) < 3 {
		n = "00"[len(n)-1:] + n
	}
	return "ops." + n + "."
}

// Write encodes q and m as a .veil file to w.
func Write(w io.Writer, q *infer.QNet, m *Meta, o Options) error {
	data, err := Encode(q, m, o)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// Encode returns q and m as a .veil file. q must pass Validate. The
// fields of m that q defines (architecture, input size, classes) are taken
// from q.
func Encode(q *infer.QNet, m *Meta, o Options) ([]byte, error) {
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("veilfile: encode: %w", err)
	}
	if m == nil {
		m = &Meta{}
	}
	g := graphJSON{Output: q.Output, InputAffine: [][2]float32{}}
	for _, a := range q.InputAffine {
		g.InputAffine = append(g.InputAffine, [2]float32{a.Mul, a.Add})
	}
	nt := len(q.Tensors)
	scale, zero, bits := make([]float32, nt), make([]int32, nt), make([]byte, nt)
	for i, t := range q.Tensors {
		g.Tensors = append(g.Tensors, [3]int{t.Shape.H, t.Shape.W, t.Shape.C})
		scale[i], zero[i], bits[i] = t.Q.Scale, t.Q.Zero, 8
		if t.Q.Wide {
			bits[i] = 12
		}
	}
	var tensors []safetensors.Tensor
	add := func(name string, dt safetensors.DType, shape []int, data []byte) {
		if !o.Raw && dt != safetensors.F32 {
			if c := deflate(data); len(c) < len(data) && len(data) <= MaxInflation*len(c) {
				tensors = append(tensors, safetensors.Tensor{Name: name + ".deflate", DType: safetensors.U8, Shape: []int{len(c)}, Data: c})
				return
			}
		}
		tensors = append(tensors, safetensors.Tensor{Name: name, DType: dt, Shape: shape, Data: data})
	}
	add("act.scale", safetensors.F32, []int{nt}, f32Bytes(scale))
	add("act.zero", safetensors.I32, []int{nt}, i32Bytes(zero))
	if q.ActBits() == 0 {
		add("act.bits", safetensors.U8, []int{nt}, bits)
	}
	for i := range q.Ops {
		op := &q.Ops[i]
		g.Ops = append(g.Ops, opJSON{Kind: op.Kind.String(), Name: op.Name, In: op.In, Out: op.Out,
			Window: [4]int{op.KH, op.KW, op.SH, op.SW}, Pad: [4]int{op.Pad.Top, op.Pad.Bottom, op.Pad.Left, op.Pad.Right}, Act: op.Act.String()})
		if op.Weights == nil {
			continue
		}
		p := opPrefix(i)
		wb := make([]byte, len(op.Weights))
		for k, v := range op.Weights {
			wb[k] = byte(v)
		}
		add(p+"weight", safetensors.I8, weightShape(q, op), wb)
		add(p+"weight_scale", safetensors.F32, []int{len(op.WScale)}, f32Bytes(op.WScale))
		add(p+"bias", safetensors.I32, []int{len(op.Bias)}, i32Bytes(op.Bias))
	}
	graph, err := json.Marshal(g)
	if err != nil {
		return nil, fmt.Errorf("veilfile: encode graph: %w", err)
	}
	classes, _ := json.Marshal(q.Classes)
	adapters := m.Adapters
	if adapters == nil {
		adapters = []Adapter{}
	}
	ad, err := json.Marshal(adapters)
	if err != nil {
		return nil, fmt.Errorf("veilfile: encode adapters: %w", err)
	}
	pre := m.Preprocessing
	if pre == "" {
		pre = Preprocessing
	}
	md := map[string]string{
		"format":             "veil",
		"format_version":     "1",
		"veil.architecture":  q.Name,
		"veil.input_size":    strconv.Itoa(q.InputSize),
		"veil.preprocessing": pre,
		"veil.classes":       string(classes),
		"veil.source":        m.Source,
		"veil.source_sha256": m.SourceSHA256,
		"veil.adapters":      string(ad),
		"veil.calibration":   m.Calibration,
		"veil.graph":         string(graph),
		checksumKey:          zeroSum,
	}
	switch q.ActBits() {
	case 12:
		md["format_version"] = "2"
		md["veil.activation_bits"] = "12"
	case 0:
		md["format_version"] = "3"
		md["veil.activation_bits"] = "mixed"
	}
	data, err := safetensors.Encode(&safetensors.File{Metadata: md, Tensors: tensors})
	if err != nil {
		return nil, fmt.Errorf("veilfile: encode: %w", err)
	}
	if !bytes.HasPrefix(data[8:], []byte(Magic)) {
		return nil, errors.New("veilfile: encode: the header does not start with the magic (tensor names must sort after __metadata__)")
	}
	pos, err := checksumPos(data, zeroSum)
	if err != nil {
		return nil, fmt.Errorf("veilfile: encode: %w", err)
	}
	sum := sha256.Sum256(data)
	copy(data[pos:], hex.EncodeToString(sum[:]))
	return data, nil
}

// weightShape is the stored shape of op's weights.
func weightShape(q *infer.QNet, op *infer.QOp) []int {
	in, out := q.Tensors[op.In[0]].Shape, q.Tensors[op.Out].Shape
	switch op.Kind {
	case infer.QConv:
		return []int{op.KH, op.KW, in.C, out.C}
	case infer.QDepthwise:
		return []int{op.KH, op.KW, out.C, 1}
	}
	return []int{in.Size(), out.C}
}

func deflate(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := flate.NewWriter(&buf, flate.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// checksumEntry returns the checksum the header of f stores, and its
// offset in head (the file's first bytes, up to the end of the header).
func checksumEntry(f *safetensors.File, head []byte) (string, int, error) {
	sum := f.Metadata[checksumKey]
	if len(sum) != 64 || strings.Trim(sum, "0123456789abcdef") != "" {
		return "", 0, FormatError("checksum entry is not 64 lowercase hex digits")
	}
	pos, err := checksumPos(head, sum)
	return sum, pos, err
}

// checkSum compares the stored checksum with the computed digest.
func checkSum(sum string, digest [32]byte) error {
	if got := hex.EncodeToString(digest[:]); got != sum {
		return formatErr("checksum mismatch: the file is corrupted (stored %s…, computed %s…)", sum[:12], got[:12])
	}
	return nil
}

// checksumPos returns the offset in data of the checksum value sum in the
// header; the key and value must occur exactly once.
func checksumPos(data []byte, sum string) (int, error) {
	n := int(binary.LittleEndian.Uint64(data))
	hdr := data[8 : 8+n]
	pat := []byte(`"` + checksumKey + `":"` + sum + `"`)
	i := bytes.Index(hdr, pat)
	if i < 0 || bytes.Count(hdr, []byte(`"`+checksumKey+`"`)) != 1 {
		return 0, FormatError("checksum entry is missing or repeated")
	}
	return 8 + i + len(pat) - 1 - 64, nil
}

func f32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func i32Bytes(v []int32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return b
}

// Read decodes a .veil file, checking everything (see the package
// documentation) before returning. The QNet does not alias data.
func Read(data []byte) (*infer.QNet, *Meta, error) {
	return ReadWith(data, ReadOptions{})
}

// ReadOptions tune ReadWith.
type ReadOptions struct {
	// Inflate decompresses the file's DEFLATE tensors, all in one call
	// (see Inflation); nil means InflateAll. The wasm module passes the
	// browser's DecompressionStream: native code, where compress/flate
	// compiled to wasm is many times slower and dominated model loading.
	Inflate func([]Inflation) error

	// SHA256 hashes parts as one message for the checksum; nil means
	// crypto/sha256. The wasm module passes the browser's crypto.subtle.
	SHA256 func(parts ...[]byte) [32]byte
}

// Inflation is one compressed tensor to decompress: Src, a raw DEFLATE
// stream (RFC 1951), must fill Dst exactly. An inflater fails, naming the
// tensor, on a corrupt stream, on one that inflates to more or fewer than
// len(Dst) bytes, and on bytes after the stream's final block.
type Inflation struct {
	Name     string // the stored tensor, for errors
	Src, Dst []byte
}

// InflateAll is the default inflater: compress/flate, one tensor after
// another.
func InflateAll(jobs []Inflation) error {
	var f inflater
	for _, j := range jobs {
		if err := f.inflate(j); err != nil {
			return err
		}
	}
	return nil
}

// inflater is compress/flate kept between tensors: one 32 KB window for a
// whole file, less garbage in wasm.
type inflater struct {
	src bytes.Reader // an io.ByteReader: flate reads no further than the stream
	zr  io.ReadCloser
}

func (f *inflater) inflate(j Inflation) error {
	f.src.Reset(j.Src)
	if f.zr == nil {
		f.zr = flate.NewReader(&f.src)
	} else {
		f.zr.(flate.Resetter).Reset(&f.src, nil)
	}
	if _, err := io.ReadFull(f.zr, j.Dst); err != nil {
		return fmt.Errorf("tensor %q: inflate: %v", j.Name, err)
	}
	var one [1]byte
	if n, err := f.zr.Read(one[:]); n != 0 || err != io.EOF {
		return fmt.Errorf("tensor %q inflates to more than %d bytes", j.Name, len(j.Dst))
	}
	if f.src.Len() != 0 {
		return fmt.Errorf("tensor %q has %d bytes after its compressed data", j.Name, f.src.Len())
	}
	return nil
}

// SHA256 is the SHA-256 of parts as one message, by crypto/sha256: the
// checksum's hash when ReadOptions.SHA256 is nil.
func SHA256(parts ...[]byte) [32]byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return [32]byte(h.Sum(nil))
}

// ReadWith is Read with options.
func ReadWith(data []byte, o ReadOptions) (*infer.QNet, *Meta, error) {
	if err := checkPrefix(data); err != nil {
		return nil, nil, err
	}
	f, err := safetensors.Parse(data, limits)
	if err != nil {
		return nil, nil, fmt.Errorf("veilfile: %w", err)
	}
	sum, pos, err := checksumEntry(f, data)
	if err != nil {
		return nil, nil, err
	}
	sha := o.SHA256
	if sha == nil {
		sha = SHA256
	}
	if err := checkSum(sum, sha(data[:pos], []byte(zeroSum), data[pos+64:])); err != nil {
		return nil, nil, err
	}
	r := newReader(f, len(data), false)
	q, m, err := r.decode()
	if err != nil {
		return nil, nil, err
	}
	// decode only sized and queued the compressed tensors (the fills, in
	// memory): inflate them now, in one call, then run the conversions that
	// wait on them.
	if len(r.fills) > 0 {
		jobs := make([]Inflation, len(r.fills))
		for i, fl := range r.fills {
			jobs[i] = Inflation{Name: fl.t.Name, Src: fl.t.Data, Dst: fl.dst}
		}
		inflate := o.Inflate
		if inflate == nil {
			inflate = InflateAll
		}
		if err := inflate(jobs); err != nil {
			return nil, nil, formatErr("%v", err)
		}
	}
	if err := r.checkUsed(); err != nil {
		return nil, nil, err
	}
	return r.finish(q, m)
}

// checkUsed fails on a tensor that decode did not ask for.
func (r *reader) checkUsed() error {
	for name := range r.tensors {
		if !r.used[name] {
			return formatErr("tensor %q belongs to no op", name)
		}
	}
	return nil
}

// finish runs the conversions that waited for the tensors' bytes, then
// validates the network.
func (r *reader) finish(q *infer.QNet, m *Meta) (*infer.QNet, *Meta, error) {
	for _, f := range r.afterInflate {
		f()
	}
	if r.late != nil {
		return nil, nil, r.late
	}
	if err := q.Validate(); err != nil {
		return nil, nil, fmt.Errorf("veilfile: %w", err)
	}
	return q, m, nil
}

// HasMagic reports whether data, a file's first bytes, starts as a .veil
// file does (Magic at byte 8).
func HasMagic(data []byte) bool {
	return len(data) >= 8+len(Magic) && string(data[8:8+len(Magic)]) == Magic
}

// checkPrefix checks the magic and the version before anything is parsed.
func checkPrefix(data []byte) error {
	if !HasMagic(data) {
		return fmt.Errorf("%w: want %q at byte 8", ErrNotVeil, Magic)
	}
	rest := data[8+len(Magic):]
	if !bytes.HasPrefix(rest, []byte(versionPrefix)) {
		return FormatError("format_version does not follow the magic")
	}
	rest = rest[len(versionPrefix):]
	end := bytes.IndexByte(rest[:min(len(rest), 12)], '"')
	if end < 0 {
		return FormatError("format_version is not terminated")
	}
	if v := string(rest[:end]); v != "1" && v != "2" && v != "3" {
		return &VersionError{Version: v}
	}
	return nil
}

// limits are what Read and ReadFrom accept of a safetensors header.
var limits = safetensors.Limits{MaxHeaderBytes: MaxHeaderBytes, MaxTensors: MaxTensors}

// newReader returns a reader of f, a file of size bytes, which stream
// says ReadFrom reads (no tensor bytes in memory) rather than Read.
func newReader(f *safetensors.File, size int, stream bool) *reader {
	r := &reader{f: f, tensors: map[string]*safetensors.Tensor{}, budget: MaxInflation * size, stream: stream}
	for i := range f.Tensors {
		r.tensors[f.Tensors[i].Name] = &f.Tensors[i]
	}
	return r
}

type reader struct {
	f       *safetensors.File
	tensors map[string]*safetensors.Tensor
	used    map[string]bool
	budget  int // bytes left to decompress

	// fills are the tensors whose bytes come after decode, each into its
	// own exact-sized buffer: the compressed ones, and with stream (set by
	// ReadFrom: no tensor bytes are in memory yet) every one.
	stream       bool
	fills        []fill
	afterInflate []func() // conversions that read a fill's buffer
	late         error    // the first error of an afterInflate conversion
}

// fill is one tensor to read or inflate into dst once decode is done.
type fill struct {
	t        *safetensors.Tensor
	dst      []byte
	deflated bool
}

func (r *reader) decode() (*infer.QNet, *Meta, error) {
	md := r.f.Metadata
	r.used = map[string]bool{}
	m := &Meta{Architecture: md["veil.architecture"], Preprocessing: md["veil.preprocessing"],
		Source: md["veil.source"], SourceSHA256: md["veil.source_sha256"], Calibration: md["veil.calibration"]}
	var err error
	if m.InputSize, err = strconv.Atoi(md["veil.input_size"]); err != nil || m.InputSize < 1 || m.InputSize > infer.MaxQInputSize {
		return nil, nil, formatErr("veil.input_size %q is invalid", md["veil.input_size"])
	}
	if m.Classes, err = decodeClasses(md["veil.classes"]); err != nil {
		return nil, nil, err
	}
	if len(m.Classes) == 0 || len(m.Classes) > 1024 {
		return nil, nil, formatErr("veil.classes has %d class names, want 1 to 1024", len(m.Classes))
	}
	if m.Adapters, err = decodeAdapters(md["veil.adapters"]); err != nil {
		return nil, nil, err
	}
	g, err := decodeGraph(md["veil.graph"])
	if err != nil {
		return nil, nil, err
	}
	if len(g.Tensors) < 2 || len(g.Tensors) > infer.MaxQOps+1 || len(g.Ops) < 1 || len(g.Ops) > infer.MaxQOps || len(g.InputAffine) > 16 {
		return nil, nil, formatErr("veil.graph: %d tensors, %d ops, %d input affine steps", len(g.Tensors), len(g.Ops), len(g.InputAffine))
	}
	q := &infer.QNet{Name: m.Architecture, InputSize: m.InputSize, Classes: m.Classes, Output: g.Output}
	// checkPrefix let only versions 1 to 3 through; 2 says its
	// activations' width, 3 may say "mixed" and list each tensor's.
	m.Version, _ = strconv.Atoi(md["format_version"])
	if m.Version < 1 || m.Version > Version {
		return nil, nil, &VersionError{Version: md["format_version"]}
	}
	bits := "8"
	if m.Version >= 2 {
		bits = md["veil.activation_bits"]
	}
	if bits != "8" && bits != "12" && (bits != "mixed" || m.Version < 3) {
		return nil, nil, formatErr("veil.activation_bits %q is invalid (want 8 or 12, or mixed from version 3)", bits)
	}
	for _, a := range g.InputAffine {
		q.InputAffine = append(q.InputAffine, infer.Affine{Mul: a[0], Add: a[1]})
	}
	nt := len(g.Tensors)
	for i, s := range g.Tensors {
		for _, d := range s {
			if d < 1 || d > infer.MaxQTensorElems {
				return nil, nil, formatErr("veil.graph: tensor %d shape %v is invalid", i, s)
			}
		}
		if s[0]*s[1] > infer.MaxQTensorElems || s[0]*s[1]*s[2] > infer.MaxQTensorElems {
			return nil, nil, formatErr("veil.graph: tensor %d shape %v is too large", i, s)
		}
		q.Tensors = append(q.Tensors, infer.QTensor{Shape: infer.Shape{H: s[0], W: s[1], C: s[2]}})
	}
	scale, err := r.f32s("act.scale", []int{nt})
	if err != nil {
		return nil, nil, err
	}
	zero, err := r.i32s("act.zero", []int{nt})
	if err != nil {
		return nil, nil, err
	}
	var widths []byte // per tensor, with "mixed"
	if bits == "mixed" {
		b, inflated, err := r.rawOwned("act.bits", safetensors.U8, []int{nt})
		if err != nil {
			return nil, nil, err
		}
		r.convert(inflated, func() { widths = b })
	}
	r.afterInflate = append(r.afterInflate, func() {
		for i := range q.Tensors {
			q.Tensors[i].Q = infer.QParams{Scale: scale[i], Zero: zero[i], Wide: bits == "12"}
			if widths != nil {
				if w := widths[i]; w != 8 && w != 12 {
					r.late = cmp.Or(r.late, formatErr("act.bits: tensor %d has %d bits (want 8 or 12)", i, w))
				}
				q.Tensors[i].Q.Wide = widths[i] == 12
			}
		}
	})
	for i, o := range g.Ops {
		op, err := r.decodeOp(q, i, &o)
		if err != nil {
			return nil, nil, fmt.Errorf("veilfile: op %d %q: %w", i, o.Name, err)
		}
		q.Ops = append(q.Ops, op)
	}
	return q, m, nil
}

func (r *reader) decodeOp(q *infer.QNet, i int, o *opJSON) (infer.QOp, error) {
	op := infer.QOp{Name: o.Name, In: o.In, Out: o.Out, KH: o.Window[0], KW: o.Window[1], SH: o.Window[2], SW: o.Window[3],
		Pad: infer.Pad{Top: o.Pad[0], Bottom: o.Pad[1], Left: o.Pad[2], Right: o.Pad[3]}}
	var ok bool
	if op.Kind, ok = infer.ParseQOpKind(o.Kind); !ok {
		return op, fmt.Errorf("unknown kind %q", o.Kind)
	}
	if op.Act, ok = infer.ParseActivation(o.Act); !ok {
		return op, fmt.Errorf("unknown activation %q", o.Act)
	}
	if len(op.In) < 1 || len(op.In) > 64 || op.Out < 1 || op.Out >= len(q.Tensors) {
		return op, fmt.Errorf("tensor ids %v -> %d are invalid", op.In, op.Out)
	}
	for _, t := range op.In {
		if t < 0 || t >= len(q.Tensors) {
			return op, fmt.Errorf("input tensor %d is out of range", t)
		}
	}
	if op.Kind != infer.QConv && op.Kind != infer.QDepthwise && op.Kind != infer.QDense {
		return op, nil
	}
	if op.KH < 0 || op.KW < 0 || op.KH > infer.MaxQWindow || op.KW > infer.MaxQWindow {
		return op, fmt.Errorf("window %dx%d is invalid", op.KH, op.KW)
	}
	shape := weightShape(q, &op)
	n := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && n > infer.MaxQTensorElems/d) {
			return op, fmt.Errorf("weight shape %v is too large", shape)
		}
		n *= d
	}
	p := opPrefix(i)
	w, inflated, err := r.rawOwned(p+"weight", safetensors.I8, shape)
	if err != nil {
		return op, err
	}
	if inflated {
		// The bytes to be inflated are ours: use them as they are, rather
		// than holding a second copy of the weights while the model loads.
		op.Weights = unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(w))), len(w))
	} else {
		op.Weights = make([]int8, len(w))
		for k, v := range w {
			op.Weights[k] = int8(v)
		}
	}
	cout := q.Tensors[op.Out].Shape.C
	if op.WScale, err = r.f32s(p+"weight_scale", []int{cout}); err != nil {
		return op, err
	}
	if op.Bias, err = r.i32s(p+"bias", []int{cout}); err != nil {
		return op, err
	}
	return op, nil
}

// rawOwned returns the bytes of the named tensor, which must have dtype dt
// and the given shape, stored plain or deflated, and whether they are a new
// buffer filled once decode is done (true: the tensor is deflated, or
// ReadFrom streams the file) or alias the file (false).
func (r *reader) rawOwned(name string, dt safetensors.DType, shape []int) ([]byte, bool, error) {
	want := dt.Size()
	for _, d := range shape {
		want *= d
	}
	if t, ok := r.tensors[name]; ok {
		r.used[name] = true
		if t.DType != dt || !slices.Equal(t.Shape, shape) {
			return nil, false, formatErr("tensor %q is %s %v, want %s %v", name, t.DType, t.Shape, dt, shape)
		}
		if r.stream {
			out := make([]byte, want)
			r.fills = append(r.fills, fill{t: t, dst: out})
			return out, true, nil
		}
		return t.Data, false, nil
	}
	t, ok := r.tensors[name+".deflate"]
	if !ok {
		return nil, false, formatErr("tensor %q is missing", name)
	}
	r.used[name+".deflate"] = true
	if t.DType != safetensors.U8 || len(t.Shape) != 1 {
		return nil, false, formatErr("tensor %q is %s %v, want U8 [n]", t.Name, t.DType, t.Shape)
	}
	n := t.Offsets[1] - t.Offsets[0]
	if want > r.budget || want > MaxInflation*n+64 {
		return nil, false, formatErr("tensor %q would inflate %d bytes to %d", t.Name, n, want)
	}
	r.budget -= want
	out := make([]byte, want)
	r.fills = append(r.fills, fill{t: t, dst: out, deflated: true})
	return out, true, nil
}

// f32s returns the named F32 tensor; a deflated one is filled in after
// decode (see rawOwned).
func (r *reader) f32s(name string, shape []int) ([]float32, error) {
	b, inflated, err := r.rawOwned(name, safetensors.F32, shape)
	if err != nil {
		return nil, err
	}
	v := make([]float32, len(b)/4)
	r.convert(inflated, func() {
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	})
	return v, nil
}

// i32s is f32s for I32 tensors.
func (r *reader) i32s(name string, shape []int) ([]int32, error) {
	b, inflated, err := r.rawOwned(name, safetensors.I32, shape)
	if err != nil {
		return nil, err
	}
	v := make([]int32, len(b)/4)
	r.convert(inflated, func() {
		for i := range v {
			v[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
		}
	})
	return v, nil
}

// convert runs f now, or once the fills are done if its bytes are
// still to be inflated.
func (r *reader) convert(inflated bool, f func()) {
	if inflated {
		r.afterInflate = append(r.afterInflate, f)
	} else {
		f()
	}
}
