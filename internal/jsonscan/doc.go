// Package jsonscan reads JSON one value at a time, without reflection.
//
// The model file's header and graph (pkg/safetensors, pkg/veilfile) are
// small JSON documents read once per load, and they come from untrusted
// files. encoding/json would do, but in the browser its reflection-driven
// decoder is where the load spends its time: V8 runs the wasm first in its
// baseline compiler, and hot decoder functions are then recompiled with
// TurboFan on background threads, some taking over 100 ms and 10 MB of
// compiler memory each. A Scanner is a few small loops that stay cheap.
//
// A Scanner is strict: it accepts exactly the JSON of RFC 8259 (as
// json.Valid does), with at most MaxDepth nested objects and arrays, and
// decodes strings as encoding/json does (invalid UTF-8 and lone surrogates
// become U+FFFD). Errors say what was wanted and at which byte.
//
//	s := jsonscan.New(data)
//	err := s.Object(func(key string) error {
//		switch key {
//		case "name":
//			name, err = s.String()
//			return err
//		}
//		return s.Skip()
//	})
//	if err == nil {
//		err = s.End()
//	}
package jsonscan
