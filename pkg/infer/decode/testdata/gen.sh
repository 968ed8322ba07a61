#!/bin/sh
# Regenerates the committed test images. Needs Go, libjpeg-turbo-progs (cjpeg,
# djpeg), webp (cwebp, dwebp) and imagemagick (convert), all Debian packages.
# Run from the repository root: sh pkg/infer/decode/testdata/gen.sh
set -eu
d=pkg/infer/decode/testdata
go run ./$d/gen -o $d
cd $d

# JPEG: each chroma subsampling, gray, progressive, restart markers, and a
# 4x3 image; the .ppm/.pgm beside each is libjpeg-turbo's decode (the same
# library browsers use), the golden for Decode.
for s in 420:2x2 422:2x1 440:1x2 444:1x1; do
	name=${s%%:*}; f=${s#*:}
	cjpeg -quality 85 -sample $f src.ppm > j$name.jpg
	djpeg -ppm j$name.jpg > j$name.ppm
done
cjpeg -quality 85 -grayscale src.ppm > jgray.jpg && djpeg -pnm jgray.jpg > jgray.pgm
cjpeg -quality 85 -progressive src.ppm > jprog.jpg && djpeg -ppm jprog.jpg > jprog.ppm
cjpeg -quality 85 -restart 1 src.ppm > jrst.jpg && djpeg -ppm jrst.jpg > jrst.ppm
cjpeg -quality 85 -sample 2x2 tiny.ppm > jtiny.jpg && djpeg -ppm jtiny.jpg > jtiny.ppm
# CMYK (Adobe APP14, inverted samples); no libjpeg golden: djpeg cannot
# output RGB from CMYK, the test compares against src.png with a tolerance.
convert src.png -colorspace CMYK -quality 95 jcmyk.jpg

# WebP: lossless (exact, compared with the PNG) and lossy with its libwebp
# decode as golden (.ppm RGB; .pam RGBA, straight alpha).
cwebp -quiet -lossless -exact src.png -o lossless.webp
cwebp -quiet -lossless -exact src_alpha.png -o lossless_alpha.webp
cwebp -quiet -q 75 src.png -o lossy.webp && dwebp -quiet lossy.webp -ppm -o lossy.ppm
cwebp -quiet -q 75 -alpha_q 100 src_alpha.png -o lossy_alpha.webp && dwebp -quiet lossy_alpha.webp -pam -o lossy_alpha.pam

rm -f src.ppm tiny.ppm
