package infer

import "unsafe"

// ConvInt8 computes Conv2DInt8Ref as a matrix product: for each block of
// convPixels output pixels the window is gathered (im2col) into a list
// holding only the rows where some input is nonzero, so the zeros that ReLU
// leaves cost nothing (padding cells are real zero and are skipped too);
// the rows are then multiplied by the weights packed for the block's
// kernel, convChans output channels at a time. There are three block kernels:
// SWAR (kernels_int8_conv_swar.go, the default), wasm SIMD
// (kernels_int8_conv_simd.go and its assembly kernels_int8_conv_wasm.s,
// with GOEXPERIMENT=simd) and AVX2
// (kernels_int8_conv_simd_amd64.go, with GOEXPERIMENT=simd). Integer sums are exact,
// so every order gives the bits of the reference.

// PackedConv holds a convolution's weights in the layout ConvInt8 reads.
type PackedConv struct {
	KH, KW, Cin, Cout int
	w                 []convWeight // see packConvWeights
	bias              []int32      // [ceil(Cout/convChans)·convChans]; channels past Cout are 0
	flat              bool         // the window packed as one cell of KH·KW·Cin rows (convFlatCin)
}

// convFlatCin: below this many input channels (the first layer's 3), a
// window's cells are packed as one cell of KH·KW·Cin rows. Row pairs then
// span cells (no half-empty pair per cell), and ConvInt8 copies each
// pixel's window together and gathers it once, not once per cell.
const convFlatCin = 8

// PackConvInt8 packs w (KH, KW, Cin, Cout) and bias (Cout) for ConvInt8 on
// 8-bit inputs. It returns ok = false if some channel's accumulator could
// leave int32 (accumulatorFits), in which case only Conv2DInt8Ref gives the
// defined (wrapped) result.
func PackConvInt8(w []int8, bias []int32, kh, kw, cin, cout int) (p *PackedConv, ok bool) {
	return packConv(nil, w, bias, kh, kw, cin, cout, 255)
}

// packConv is PackConvInt8 for inputs in [0, top], writing the packed
// weights into dst if dst is exactly their length (see packedConvLen),
// else into new memory.
func packConv(dst []convWeight, w []int8, bias []int32, kh, kw, cin, cout int, top int32) (p *PackedConv, ok bool) {
	k := kh * kw * cin
	if len(w) != k*cout || len(bias) != cout {
		panic("infer: PackConvInt8: bad shapes")
	}
	if _, fits := accumulatorFits(w, bias, top); !fits {
		return nil, false
	}
	nb := (cout + convChans - 1) / convChans
	p = &PackedConv{KH: kh, KW: kw, Cin: cin, Cout: cout, bias: make([]int32, nb*convChans), flat: cin < convFlatCin && kh*kw > 1}
	copy(p.bias, bias)
	cells, rows := packCells(kh, kw, cin)
	p.w = packConvWeights(dst, w, cells, rows, cout)
	return p, true
}

// packCells is how PackConvInt8 lays out a window: cells of rows input
// channels each. A flat window is one cell of KH·KW·Cin rows (w is
// (K, Cout) either way).
func packCells(kh, kw, cin int) (cells, rows int) {
	if cin < convFlatCin && kh*kw > 1 {
		return 1, kh * kw * cin
	}
	return kh * kw, cin
}

// zeroed returns p cleared if it has length n, else a new slice of n.
func zeroed[T any](p []T, n int) []T {
	if len(p) != n {
		return make([]T, n)
	}
	clear(p)
	return p
}

// packInPlace packs conv weights w (KH, KW, Cin, Cout) into w's own memory
// where the packed layout fits in it, as in the wasm SIMD build where it is
// the same size (Cout a multiple of 16, Cin even). w is then destroyed;
// scratch (at least len(w) long) holds the raw weights meanwhile. It
// returns false, having changed nothing, where the layout does not fit.
func packInPlace(w []int8, scratch []int8, bias []int32, kh, kw, cin, cout int, top int32) (*PackedConv, bool) {
	cells, rows := packCells(kh, kw, cin)
	n := packedConvLen(cells, rows, cout)
	size := int(unsafe.Sizeof(convWeight(0)))
	if len(w) == 0 || n*size > cap(w) || uintptr(unsafe.Pointer(unsafe.SliceData(w)))%uintptr(size) != 0 {
		return nil, false
	}
	raw := scratch[:len(w)]
	copy(raw, w)
	dst := unsafe.Slice((*convWeight)(unsafe.Pointer(unsafe.SliceData(w))), n)
	return packConv(dst, raw, bias, kh, kw, cin, cout, top) // on !ok, nothing was written
}

// requantBlock writes output channels cb·convChans… (a block) of pixels
// p0..p0+np−1 from their accumulators.
func requantBlock[Y Activ](y []Y, p0, np, cout, cb int, acc *[convPixels][convChans]int32, rq *Requant) {
	co0 := cb * convChans
	n := min(convChans, cout-co0)
	flat := unsafe.Slice(&acc[0][0], convPixels*convChans)
	y8, bytes := asBytes(y)
	if !bytes {
		done := rq.applyRowsWide(asWide(y)[p0*cout+co0:], cout, flat, convChans, np, n, co0) // SIMD, where the build has it
		for j := range np {
			out := y[(p0+j)*cout+co0:][:n]
			for c := done; c < n; c++ {
				out[c] = Y(rq.value(acc[j][c], co0+c))
			}
		}
		return
	}
	done := rq.applyRowsVector(y8[p0*cout+co0:], cout, flat, convChans, np, n, co0) // SIMD, where the build has it
	for j := 0; j < np && done < n; j++ {
		rq.applyRow(y8[(p0+j)*cout+co0+done:], acc[j][done:n], co0+done)
	}
}

// asBytes returns x as []uint8 and true if T is uint8 (the vector kernels
// read and write bytes), else nil and false. It costs nothing at run time.
func asBytes[T Activ](x []T) ([]uint8, bool) {
	if activTop[T]() != 255 {
		return nil, false
	}
	return unsafe.Slice((*uint8)(unsafe.Pointer(unsafe.SliceData(x))), len(x)), true
}

// asWide is x as []uint16, for T uint16 (12-bit activations).
func asWide[T Activ](x []T) []uint16 {
	if activTop[T]() == 255 {
		panic("infer: asWide of bytes")
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(x))), len(x))
}

// rowsAsBytes is asBytes for a block's input rows.
func rowsAsBytes[T Activ](r *[convPixels][]T) (*[convPixels][]uint8, bool) {
	if activTop[T]() != 255 {
		return nil, false
	}
	return (*[convPixels][]uint8)(unsafe.Pointer(r)), true
}

// flatWindow copies the kh×kw window with corner (iy0, ix0) of x into win
// ([kh][kw][Cin]), padding cells set to the zero point zx. A kernel row
// inside x is one run of kw·Cin values; only the edges go cell by cell.
func flatWindow[X Activ](win, x []X, xs Shape, iy0, ix0, kh, kw int, zx X) {
	cin := xs.C
	run := kw * cin
	for ky := range kh {
		dst := win[ky*run:][:run]
		iy := iy0 + ky
		if iy >= 0 && iy < xs.H && ix0 >= 0 && ix0+kw <= xs.W {
			// Eight bytes at a time, inline: for a kernel row's few bytes
			// a call (memmove's, or a helper's) costs more than the copy.
			src := x[(iy*xs.W+ix0)*cin:][:run]
			per := 8 / int(unsafe.Sizeof(zx))
			i := 0
			for ; i+per <= run; i += per {
				*(*uint64)(unsafe.Pointer(&dst[i])) = *(*uint64)(unsafe.Pointer(&src[i]))
			}
			for ; i < run; i++ {
				dst[i] = src[i]
			}
			continue
		}
		for kx := range kw {
			cell := dst[kx*cin:][:cin]
			if ix := ix0 + kx; iy >= 0 && iy < xs.H && ix >= 0 && ix < xs.W {
				copy(cell, x[(iy*xs.W+ix)*cin:][:cin])
			} else {
				for i := range cell {
					cell[i] = zx
				}
			}
		}
	}
}

// ConvScratch is the working memory of ConvInt8 for layers up to K =
// KH·KW·Cin window rows and Cin input channels.
type ConvScratch struct {
	rows []convRow // [K]
	zero []uint16  // [Cin] filled with the input zero point: a padding pixel (viewed as the input's type)
	win  []uint16  // [convPixels·K] the pixels' windows, for flat packings (same)
}

// NewConvScratch returns scratch for windows of up to k rows and cin channels.
func NewConvScratch(k, cin int) *ConvScratch {
	return &ConvScratch{rows: make([]convRow, k), zero: make([]uint16, cin), win: make([]uint16, convPixels*k)}
}

// scratchAs views the first n values of s as []X (uint16 holds either).
func scratchAs[X Activ](s []uint16, n int) []X {
	return unsafe.Slice((*X)(unsafe.Pointer(unsafe.SliceData(s))), n)
}

// ConvInt8 is Conv2DInt8Ref with packed weights: the same bits, for inputs
// in the range pw was packed for (packConv's top).
//
//	x (H, W, Cin) uint8|uint16 (zero point zx) * pw -> y (OH, OW, Cout) uint8|uint16 via rq
func ConvInt8[X, Y Activ](y []Y, ys Shape, x []X, xs Shape, zx int32, pw *PackedConv, sh, sw int, pad Pad, rq *Requant, s *ConvScratch) {
	cin, cout := xs.C, ys.C
	k := pw.KH * pw.KW * cin
	if pw.Cin != cin || pw.Cout != cout || len(rq.Mult) != cout || len(s.rows) < k || len(s.zero) < cin || len(s.win) < convPixels*k || len(y) < ys.Size() || len(x) < xs.Size() {
		panic("infer: ConvInt8: bad shapes")
	}
	zero := scratchAs[X](s.zero, cin)
	for i := range zero {
		zero[i] = X(zx)
	}
	win := scratchAs[X](s.win, convPixels*k)
	pixels := ys.H * ys.W
	var rowOf [convPixels][]X
	var iy0, ix0 [convPixels]int // each pixel's window corner; past the end: far outside
	for p0 := 0; p0 < pixels; p0 += convPixels {
		for j := range convPixels {
			iy0[j], ix0[j] = -1<<30, -1<<30
			if p := p0 + j; p < pixels {
				iy0[j], ix0[j] = p/ys.W*sh-pad.Top, p%ys.W*sw-pad.Left
			}
		}
		if pw.flat {
			// Copy each pixel's window, a kernel row (KW·Cin bytes, one
			// run in x) at a time, and gather it once.
			for j := range convPixels {
				flatWindow(win[j*k:][:k], x, xs, iy0[j], ix0[j], pw.KH, pw.KW, X(zx))
				rowOf[j] = win[j*k:][:k]
			}
			n := gatherRows(s.rows, 0, 0, &rowOf, zx)
			convBlockRows(y, p0, min(convPixels, pixels-p0), cout, s.rows[:n], pw, rq)
			continue
		}
		// Gather the window of the block, cell by cell (past the end:
		// padding).
		n := 0
		for ky := range pw.KH {
			for kx := range pw.KW {
				cell := (ky*pw.KW + kx) * cin
				for j := range convPixels {
					rowOf[j] = zero
					iy, ix := iy0[j]+ky, ix0[j]+kx
					if iy >= 0 && iy < xs.H && ix >= 0 && ix < xs.W {
						rowOf[j] = x[(iy*xs.W+ix)*cin:][:cin]
					}
				}
				n = gatherRows(s.rows, n, cell, &rowOf, zx)
			}
		}
		convBlockRows(y, p0, min(convPixels, pixels-p0), cout, s.rows[:n], pw, rq)
	}
}
