// Package tokenizer turns text into token ids and back for the vocabularies
// stored in GGUF files, reproducing llama.cpp's tokenizers id for id.
//
// Two vocabulary kinds are supported, chosen by tokenizer.ggml.model:
//
//   - "llama": SentencePiece-style vocabularies (scores, byte fallback
//     tokens <0xXX>, ▁ for spaces). Encoding is llama.cpp's llm_tokenizer_spm:
//     the text is split into UTF-8 characters and adjacent pairs are merged
//     greedily, highest vocabulary score first (ties: leftmost), with a
//     priority queue; pieces that are not tokens fall back to byte tokens.
//   - "gpt2": byte-level BPE (tokenizer.ggml.merges ranks). The text is first
//     split into words by the pre-tokenizer named in tokenizer.ggml.pre, each
//     word's bytes are mapped to printable code points (the GPT-2 byte↔unicode
//     table) and merged lowest rank first.
//
// # Pre-tokenizers
//
// llama.cpp splits BPE text with a list of regular expressions per pre type,
// applied one after another, each refining the pieces of the previous one.
// Go's regexp has no lookahead, so every expression is implemented here as a
// hand-written scanner over code points that follows llama.cpp's semantics,
// including its quirks: its custom GPT-2/Llama-3 scanners, and for the other
// expressions std::regex run over a "collapsed" text in which every non-ASCII
// code point is replaced by a byte naming its Unicode category (so a non-ASCII
// space only matches \s, and U+3000 is never inside a literal CJK range).
// Supported values: default, gpt-2, llama-bpe (llama3), qwen2, qwen35 (Qwen2
// with combining marks in letter runs), deepseek-llm, deepseek-coder, falcon,
// starcoder, and the aliases llama.cpp maps to the same expressions (the full list is in the error for an unsupported value). An
// unknown value is an error, as in llama.cpp, rather than a silent fallback to
// GPT-2 that would tokenize differently; a missing tokenizer.ggml.pre means
// "default", as in llama.cpp.
//
// Unicode categories come from Go's unicode package (Unicode 15.0) patched
// with the 15.1 additions, matching llama.cpp's own tables (Unicode 15.1).
//
// # Special tokens
//
// As in llama.cpp, user-defined tokens (token_type 4) are always matched
// verbatim in the input before any other processing (deepseek-coder's
// vocabulary relies on this for single characters such as "ü"); control and
// unknown tokens (token_type 3 and 2, such as "<s>") are matched only when
// Options.ParseSpecial is set, and otherwise are tokenized as plain text.
// Tokens llama.cpp recognises by text as end-of-generation or fill-in-the-
// middle markers (such as "<|im_end|>" or "</s>") count as control tokens
// whatever their token_type.
//
// # Decoding
//
// Piece and Decode render tokens as llama.cpp's token_to_piece with
// special=true (the default of its common_token_to_piece and
// common_detokenize, which the reference generations were recorded with):
// control, unknown and user-defined tokens render as their text (so a
// generated "<unk>" shows as "<unk>"; callers stop at IsEOG before printing),
// byte tokens as the raw byte, SentencePiece pieces with ▁ turned into a
// space (the leading space of the first piece is kept, as in llama-cli output)
// and byte-level BPE pieces mapped back to their bytes. Unused and undefined
// tokens render as nothing. No clean-up of spaces is applied, so for
// byte-level BPE Decode(Encode(s)) == s for valid UTF-8 s, and for
// SentencePiece Decode(Encode(s)) == " "+s when the vocabulary adds a space
// prefix and s is valid UTF-8 without "▁".
//
// A Tokenizer is immutable after FromGGUF and safe for concurrent use. No
// input makes Encode, Decode or Piece panic: invalid UTF-8 is tokenized as
// llama.cpp does (byte fallback for SentencePiece, U+FFFD per bad byte for
// BPE), and out-of-range ids decode to nothing.
package tokenizer
