package tokenizer

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// HashIDs is the hex SHA-256 of token ids written as little-endian int32
// (the layout llama-perplexity stores them in), so a run's tokens can be
// named and compared without keeping them.
func HashIDs(ids []int32) string {
	h := sha256.New()
	var b [4]byte
	for _, id := range ids {
		binary.LittleEndian.PutUint32(b[:], uint32(id))
		h.Write(b[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}
