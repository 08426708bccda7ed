package stages

import (
	"testing"
)

// FuzzSettingsSet: any name and value given to Settings.Set (the command
// line's settings parser) is taken or refused with an error; a taken value
// reads back through Get and Set to the same settings; Validate never panics.
//
//	go test ./stages -run '^$' -fuzz FuzzSettingsSet -fuzztime 10m
func FuzzSettingsSet(f *testing.F) {
	for _, fd := range Fields() {
		f.Add(fd.Name, fd.Default())
	}
	f.Add("eviction-rate", "NaN")
	f.Add("key_bits", "99999999999999999999")
	f.Add("hadamard", "seeded")
	f.Add("nope", "1")
	f.Fuzz(func(t *testing.T, name, value string) {
		s := DefaultSettings()
		if err := s.Set(name, value); err != nil {
			return
		}
		_ = s.Validate()
		v, err := s.Get(name)
		if err != nil {
			t.Fatalf("Set(%q) took the value but Get fails: %v", name, err)
		}
		u := DefaultSettings()
		if err := u.Set(name, v); err != nil {
			t.Fatalf("Get(%q) = %q does not Set back: %v", name, v, err)
		}
		if u != s && !(s.EvictionRate != s.EvictionRate) { // NaN never equals itself
			t.Fatalf("Set(%q, %q) then Get/Set gives %+v, want %+v", name, value, u, s)
		}
	})
}
