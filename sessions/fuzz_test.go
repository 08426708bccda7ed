package sessions

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzDecode: a session file of any bytes either loads — and then saves
// and loads back the same — or gives an error naming the file; never a
// panic.
//
//	go test ./sessions -run '^$' -fuzz FuzzDecode -fuzztime 10m
func FuzzDecode(f *testing.F) {
	good, _ := json.Marshal(&Session{Version: FormatVersion, Name: "s", Created: time.Unix(1, 0).UTC(), Updated: time.Unix(2, 0).UTC(),
		Model: Model{Path: "/m.gguf", Arch: "llama", Params: 3, Bytes: 9, HeaderHash: "ab"},
		Text:  Text{Source: "t.txt", SHA256: "cd", Prefix: 256, Continuation: 128, Windows: 1},
		Runs:  []Run{{Time: time.Unix(3, 0).UTC(), Settings: json.RawMessage(`{"key-bits":2}`), Result: json.RawMessage(`{"ratio_total":10}`)}}})
	f.Add(good)
	f.Add([]byte(`{"version":1,"name":"s","runs":[]}`))
	f.Add([]byte(`{"version":99}`))
	f.Add([]byte(`{"runs":[{"settings":1e999}]}`))
	f.Add(good[:len(good)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		const path = "/x/s.json"
		s, err := decode(path, data)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		store := &Store{Dir: t.TempDir()}
		if err := store.Save(s); err != nil {
			return // a session that loads but cannot be saved (a bad name) is refused, not corrupted
		}
		back, err := store.Load(s.Name)
		if err != nil {
			t.Fatalf("a session that loaded and saved does not load back: %v", err)
		}
		if len(back.Runs) != len(s.Runs) {
			t.Fatalf("runs %d → %d after a save", len(s.Runs), len(back.Runs))
		}
	})
}
