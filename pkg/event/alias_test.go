package event

import (
	"bytes"
	"reflect"
	"testing"
	"unsafe"
)

// TestStringsDoNotAliasInput holds the decoder to Event's documented
// contract: no decoded string points into the input or into Raw, so a
// string kept from an event never keeps the event's JSON alive.
func TestStringsDoNotAliasInput(t *testing.T) {
	names, lines := sampleLines(t)
	for _, n := range names {
		in := bytes.Clone(lines[n])
		for _, via := range []string{"Decode", "Reader"} {
			var ev Event
			var err error
			if via == "Decode" {
				ev, err = Decode(in)
			} else {
				ev, err = NewReader(bytes.NewReader(in)).Next()
			}
			if err != nil {
				t.Fatalf("%s: %v", n, err)
			}
			for _, buf := range [][]byte{in, ev.Raw} {
				lo := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
				hi := lo + uintptr(cap(buf))
				walkStrings(reflect.ValueOf(ev), func(s string) {
					if p := uintptr(unsafe.Pointer(unsafe.StringData(s))); len(s) > 0 && p >= lo && p < hi {
						t.Errorf("%s (%s): string %.40q points into the event's JSON", n, via, s)
					}
				})
			}
		}
	}
}

// walkStrings calls f on every string reachable from v.
func walkStrings(v reflect.Value, f func(string)) {
	switch v.Kind() {
	case reflect.String:
		f(v.String())
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkStrings(v.Elem(), f)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				walkStrings(v.Field(i), f)
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // Raw itself
		}
		for i := 0; i < v.Len(); i++ {
			walkStrings(v.Index(i), f)
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			walkStrings(it.Key(), f)
			walkStrings(it.Value(), f)
		}
	}
}
