//go:build js && wasm

package main

import (
	"fmt"
	"runtime/debug"
	"syscall/js"

	"github.com/hack-pad/safejs"
)

// newPromise returns a Promise settled by work, which runs on its own
// goroutine so the JavaScript event loop is not blocked while it waits for
// other JavaScript work. A panic in work rejects the Promise with a
// VEIL_INTERNAL Error (and its stack on the console) instead of killing the
// module.
func newPromise(work func() (any, error)) js.Value {
	var resolve, reject js.Value
	executor := js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject = args[0], args[1]
		return nil
	})
	p := js.Global().Get("Promise").New(executor) // the executor runs synchronously
	executor.Release()
	go func() {
		defer func() {
			if r := recover(); r != nil {
				js.Global().Get("console").Call("error", fmt.Sprintf("veil: internal error: %v\n%s", r, debug.Stack()))
				reject.Invoke(jsError(newError(codeInternal, nil, "internal error: %v", r)))
			}
		}()
		v, err := work()
		if err != nil {
			reject.Invoke(jsError(err))
			return
		}
		resolve.Invoke(v)
	}()
	return p
}

// jsError makes a JavaScript Error with err's message and code.
func jsError(err error) js.Value {
	e := js.Global().Get("Error").New(err.Error())
	e.Set("code", errorCode(err))
	return e
}

// await waits for a JavaScript Promise (or any thenable) and returns its
// value, or its rejection reason as an error.
func await(p safejs.Value) (safejs.Value, error) {
	type result struct {
		v   safejs.Value
		err error
	}
	done := make(chan result, 1)
	onOK, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		done <- result{v: arg(args, 0)}
		return nil
	})
	if err != nil {
		return safejs.Undefined(), err
	}
	defer onOK.Release()
	onErr, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		done <- result{err: reason(arg(args, 0))}
		return nil
	})
	if err != nil {
		return safejs.Undefined(), err
	}
	defer onErr.Release()
	if _, err := p.Call("then", onOK.Value(), onErr.Value()); err != nil {
		return safejs.Undefined(), err
	}
	r := <-done
	return r.v, r.err
}

func arg(args []safejs.Value, i int) safejs.Value {
	if i < len(args) {
		return args[i]
	}
	return safejs.Undefined()
}

// reason turns a rejection reason (usually an Error) into a Go error.
func reason(v safejs.Value) error {
	if msg, err := v.Get("message"); err == nil && msg.Type() == safejs.TypeString {
		s, _ := msg.String()
		return jsReason(s)
	}
	s, err := safejs.Global().Call("String", v)
	if err != nil {
		return jsReason("unknown error")
	}
	str, _ := s.String()
	return jsReason(str)
}

// jsReason is an exception or rejection from JavaScript.
type jsReason string

func (r jsReason) Error() string { return string(r) }
