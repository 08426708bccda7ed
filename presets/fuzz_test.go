package presets

import (
	"strings"
	"testing"
)

// FuzzParse: a preset file of any bytes either parses to valid settings that
// marshal and parse back equal, or gives an error naming the file; never a
// panic.
//
//	go test ./presets -run '^$' -fuzz FuzzParse -fuzztime 10m
func FuzzParse(f *testing.F) {
	for _, p := range Builtins() {
		b, err := Marshal(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"name":"x","settings":{"key_bits":3,"eviction-rate":0.5}}`))
	f.Add([]byte(`{"name":"x","settings":{"key-bits":7}}`))
	f.Add([]byte(`{"name":"x","settings":{"nope":1}}`))
	f.Add([]byte(`{"name":"x","settings":{"eviction-rate":"NaN"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		const path = "/x/x.json"
		p, err := Parse(path, data)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if err := p.Settings.Validate(); err != nil {
			t.Fatalf("parsed settings do not validate: %v", err)
		}
		b, err := Marshal(p)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		q, err := Parse(path, b)
		if err != nil {
			t.Fatalf("a marshalled preset does not parse: %v\n%s", err, b)
		}
		if q.Settings != p.Settings {
			t.Fatalf("settings changed through marshal: %+v → %+v", p.Settings, q.Settings)
		}
	})
}
