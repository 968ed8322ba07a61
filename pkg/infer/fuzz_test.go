package infer

import (
	"encoding/base64"
	"testing"
)

func encodeB64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// FuzzTFJSModel feeds arbitrary model.json and shard bytes through the TF.js
// reader and the builder: they must return an error or a Net that runs,
// never panic.
func FuzzTFJSModel(f *testing.F) {
	for _, s := range fuzzTFJSSeeds() {
		f.Add(s[0].([]byte), s[1].([]byte))
	}
	f.Fuzz(func(t *testing.T, js, bin []byte) {
		m, err := parseTiny(js, bin)
		if err != nil {
			return
		}
		net, err := Build(m, "fuzz")
		if err != nil {
			return
		}
		if net.InputSize > 64 || net.MACs() > 1e7 {
			return // valid but too big to run here
		}
		for _, op := range net.Ops {
			if op.KH*op.KW > 64 || net.Shapes[op.Out].Size() > 1<<16 || net.Shapes[op.In[0]].Size() > 1<<16 {
				return // pools and pads cost time MACs does not count
			}
		}
		NewFloat(net).Run(make([]float32, net.Shapes[0].Size()))
	})
}
