// Package decode turns image file bytes into the 8-bit RGB pixels that nsfwjs
// sees in a browser: what tf.browser.fromPixels reads back from a canvas the
// image was drawn on (getImageData, alpha dropped).
//
// It is pure Go (no cgo) and builds for GOOS=js GOARCH=wasm.
//
// # Output
//
// An *RGB is row-major, 3 bytes per pixel, no padding: channel c of pixel
// (x, y) is Pix[(y*W+x)*3+c]. The image is upright.
//
// # Formats
//
// The format is sniffed from the leading bytes, never from a name or MIME
// type: JPEG (FF D8 FF), PNG, GIF (GIF87a, GIF89a) and WebP (RIFF....WEBP).
//
//   - JPEG: baseline and progressive, gray, YCbCr at any of Go's chroma
//     subsamplings, and Adobe CMYK/YCCK. Chroma upsampling and YCbCr→RGB
//     reproduce libjpeg-turbo (the decoder of Chromium and Firefox) bit for
//     bit: its default "fancy" triangle filter for h2v1 and h2v2 (chroma
//     wider than 2 samples) and h1v2, replication otherwise, and its 16-bit
//     fixed-point tables. Go's IDCT still rounds differently from
//     libjpeg-turbo's, so samples can differ by ±1, up to 3 in RGB. CMYK
//     follows Chromium: samples are Adobe-inverted, R = iC·iK/255 truncated.
//   - PNG: every colour type and bit depth. 16-bit samples keep their high
//     byte (libpng's png_set_strip_16, used by browsers).
//   - GIF: the first frame only (later frames are never read). It is placed
//     on the logical screen from the header; pixels it does not cover and
//     transparent pixels are black (see Alpha). A first frame extending past
//     the screen is an error.
//   - WebP: lossy and lossless, with or without alpha, via
//     golang.org/x/image/webp. Lossy VP8 is limited-range BT.601 YUV 4:2:0;
//     x/image returns it as an image.YCbCr that Go would convert as full-range
//     JPEG YCbCr, so this package instead applies libwebp's default fancy
//     upsampler and fixed-point conversion, matching dwebp exactly. Animated
//     WebP is an *UnsupportedError.
//
// Colour profiles (ICC, gAMA, cHRM, sRGB chunks) are ignored and pixels are
// taken as sRGB; browsers that colour-manage will differ on tagged images.
//
// # Orientation
//
// For JPEG, the Orientation tag (0x0112) of the first APP1 Exif segment
// before the first scan is applied, as browsers do with
// image-orientation: from-image, which also governs canvas drawImage. Both
// TIFF byte orders are read. With (W, H) the stored size, upright pixel
// (x, y) comes from stored pixel:
//
//	1: (x, y)            5: (y, x)           transpose
//	2: (W-1-x, y)        6: (y, H-1-x)       rotate 90° clockwise
//	3: (W-1-x, H-1-y)    7: (W-1-y, H-1-x)   transverse
//	4: (x, H-1-y)        8: (W-1-y, x)       rotate 90° counter-clockwise
//
// Orientations 5-8 swap width and height. Missing, malformed or out-of-range
// EXIF means orientation 1, never an error. EXIF in PNG (eXIf) and WebP is
// not read.
//
// # Alpha
//
// Browsers keep canvas pixels premultiplied, so getImageData returns colour
// that went through premultiply and unpremultiply rounding. For straight
// (non-premultiplied) colour c and alpha a, both 0..255:
//
//	a = 0:  c' = 0
//	a > 0:  p = round(c·a/255),  c' = min(255, round(p·255/a))
//
// so a fully transparent pixel reads back as black (0, 0, 0) and an opaque
// one is unchanged. Go's premultiplied types (image.RGBA) start from p
// directly. 16-bit alpha and colour are first reduced to their high bytes.
// Chromium premultiplies WebP in libwebp with slightly different arithmetic,
// so partially transparent WebP pixels may differ from it by one level.
//
// # Safety and limits
//
// Input is untrusted. Decode checks the file size, then the size in the
// header (DecodeConfig, which allocates no pixel memory), then, for JPEG, the
// number of scans (at most 1000: each progressive scan walks every block, so
// many near-empty scans are a CPU bomb) before decoding any pixels.
// DefaultLimits are 64 MiB per file, 16384 pixels per side and 50 megapixels
// (a 4000x3000 photo is 12); a zero or negative Limits field takes the
// default. Errors are *FormatError (invalid or corrupt input),
// *UnsupportedError (valid but not implemented) or *LimitError (which limit,
// the value and the limit), with messages prefixed "decode: ". Decode never
// panics: all parsing done here is bounds-checked, and a panic inside a
// standard decoder is recovered into a *FormatError as a last line of
// defence.
package decode
