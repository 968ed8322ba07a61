package decode

// applyOrientation returns m transformed so that an image stored with EXIF
// orientation o is upright, as browsers draw it with
// image-orientation: from-image. Orientations 2-4 are done in place; 5-8
// swap width and height and need a new buffer.
//
// With (W, H) the stored size, the upright pixel (x, y) comes from:
//
//	1: (x, y)            5: (y, x)
//	2: (W-1-x, y)        6: (y, H-1-x)
//	3: (W-1-x, H-1-y)    7: (W-1-y, H-1-x)
//	4: (x, H-1-y)        8: (W-1-y, x)
func applyOrientation(m *RGB, o int) *RGB {
	w, h, p := m.W, m.H, m.Pix
	switch o {
	case 2:
		for y := 0; y < h; y++ {
			row := p[y*w*3 : (y+1)*w*3]
			for i, j := 0, (w-1)*3; i < j; i, j = i+3, j-3 {
				swap3(row, i, j)
			}
		}
		return m
	case 3:
		for i, j := 0, (w*h-1)*3; i < j; i, j = i+3, j-3 {
			swap3(p, i, j)
		}
		return m
	case 4:
		stride := w * 3
		for a, b := 0, h-1; a < b; a, b = a+1, b-1 {
			ra, rb := p[a*stride:(a+1)*stride], p[b*stride:(b+1)*stride]
			for i := range ra {
				ra[i], rb[i] = rb[i], ra[i]
			}
		}
		return m
	case 5, 6, 7, 8:
	default:
		return m
	}
	out := &RGB{W: h, H: w, Pix: make([]uint8, len(p))}
	// Walk the source in memory order; compute where each pixel lands.
	for sy := 0; sy < h; sy++ {
		for sx := 0; sx < w; sx++ {
			var dx, dy int
			switch o {
			case 5:
				dx, dy = sy, sx
			case 6:
				dx, dy = h-1-sy, sx
			case 7:
				dx, dy = h-1-sy, w-1-sx
			case 8:
				dx, dy = sy, w-1-sx
			}
			s, d := (sy*w+sx)*3, (dy*h+dx)*3
			out.Pix[d], out.Pix[d+1], out.Pix[d+2] = p[s], p[s+1], p[s+2]
		}
	}
	return out
}

func swap3(p []uint8, i, j int) {
	p[i], p[j] = p[j], p[i]
	p[i+1], p[j+1] = p[j+1], p[i+1]
	p[i+2], p[j+2] = p[j+2], p[i+2]
}
