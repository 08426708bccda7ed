package tokenizer

import "testing"

func TestHashIDs(t *testing.T) {
	cases := []struct {
		ids  []int32
		want string
	}{
		{nil, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},        // sha256 of nothing
		{[]int32{1}, "67abdd721024f0ff4e0b3f4c2fc13bc5bad42d0b7851d456d88d203d15aaa450"}, // sha256 of 01 00 00 00
	}
	for _, c := range cases {
		if got := HashIDs(c.ids); got != c.want {
			t.Errorf("HashIDs(%v) = %s, want %s", c.ids, got, c.want)
		}
	}
	if HashIDs([]int32{1, 2}) == HashIDs([]int32{2, 1}) {
		t.Error("order does not change the hash")
	}
}
