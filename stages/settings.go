package stages

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Stage names, in pipeline order (SPEC §1–6). They name the entries of
// Report.Stages, the keys of Pipeline.Runs and the values FirstChangedStage
// returns.
const (
	StageScore    = "score"
	StageEvict    = "evict"
	StageRoPE     = "rope"
	StageHadamard = "hadamard"
	StageQuantize = "quantize"
	StageEntropy  = "entropy"
)

// StageNames lists the stages in pipeline order. Read-only.
var StageNames = []string{StageScore, StageEvict, StageRoPE, StageHadamard, StageQuantize, StageEntropy}

// MethodNexusQuant is the default method: the six stages of SPEC §1–6.
// MethodNone stores every prefix row as float16, nothing evicted (the baseline).
// Other methods are RowCodecs registered with RegisterRowCodec.
const (
	MethodNexusQuant = "nexusquant"
	MethodNone       = "none"
)

// Allowed values of zstd_level, in the order error messages list them. The
// scorers, granularities, lattices and bit widths are the stages' own lists
// (scoreScorers, scoreGranularities, quantLattices, quantBits).
var settingZstdLevels = []string{"fastest", "default", "better", "best"}

// Limits of the integer settings. MaxBlockTokens bounds the decode scratch of
// one block (MaxBlockTokens·DPad·2 bytes); the others keep a corrupt or hostile
// file from describing absurd shapes.
const (
	MaxBlockTokens     = 1 << 16
	maxSlidingWindow   = 1 << 24
	maxObsWindow       = 1 << 24
	maxProtectBoundary = 1 << 10
)

// Settings holds every user-facing parameter of the pipeline (SPEC §1–7, §9).
// The JSON keys are the flag names, which Fields lists with the stage that
// first reads each one; the zero value is not valid, start from
// DefaultSettings. Settings is a plain value: copy it freely.
type Settings struct {
	// Method is "nexusquant" (SPEC §1–6), "none" (float16 of every row, nothing
	// evicted) or the name of a registered RowCodec.
	Method string `json:"method"`
	// EvictionRate ρ ∈ [0, 1): the share of positions 1..T−W−1 evicted (SPEC §2).
	EvictionRate float64 `json:"eviction_rate"`
	// SlidingWindow W: the last W positions are always kept.
	SlidingWindow int `json:"sliding_window"`
	// SlidingLayers is what happens to the window a sliding-window layer's
	// cache holds (the model's own window, not SlidingWindow): "compress"
	// evicts and quantizes it like any layer's rows, "float16" stores it
	// untouched. Models without sliding-window layers ignore it.
	SlidingLayers string `json:"sliding_layers"`
	// ObsWindow w: the number of last keys (or queries) used as observers.
	ObsWindow int `json:"obs_window"`
	// Scorer: keykey|attention|h2o|tova|knorm|streaming|random.
	Scorer string `json:"scorer"`
	// Granularity: one keep set for all layers (global), per layer, or per
	// (layer, KV head).
	Granularity string `json:"granularity"`
	// Seed drives the random scorer and the Hadamard sign diagonal.
	Seed int64 `json:"seed"`
	// RoPEUndo rotates kept keys back before quantization (SPEC §3).
	RoPEUndo bool `json:"rope_undo"`
	// Hadamard applies the padded Walsh–Hadamard rotation (SPEC §4).
	Hadamard bool `json:"hadamard"`
	// HadamardSigns multiplies by a seeded ±1 diagonal first.
	HadamardSigns bool `json:"hadamard_signs"`
	// Lattice: e8|relaxed|scalar (SPEC §5).
	Lattice string `json:"lattice"`
	// KeyBits and ValueBits: nominal bits per coordinate, each in {2,3,4,5,6,8}.
	KeyBits   int `json:"key_bits"`
	ValueBits int `json:"value_bits"`
	// Delta codes each code row as the difference to the previous one (SPEC §6).
	Delta bool `json:"delta"`
	// ZstdLevel: fastest|default|better|best, for the row streams and scales.
	ZstdLevel string `json:"zstd_level"`
	// BlockTokens: kept tokens per independently decodable block, 1..65536.
	BlockTokens int `json:"block_tokens"`
	// ProtectBoundary N keeps the first and last N layers as float16.
	ProtectBoundary int `json:"protect_boundary"`
}

// DefaultSettings returns the defaults of SPEC §1–7.
func DefaultSettings() Settings {
	return Settings{
		Method:          MethodNexusQuant,
		EvictionRate:    0.60,
		SlidingWindow:   32,
		SlidingLayers:   SlidingCompress,
		ObsWindow:       32,
		Scorer:          "keykey",
		Granularity:     "global",
		Seed:            0,
		RoPEUndo:        true,
		Hadamard:        true,
		HadamardSigns:   false,
		Lattice:         "e8",
		KeyBits:         2,
		ValueBits:       2,
		Delta:           true,
		ZstdLevel:       "best",
		BlockTokens:     256,
		ProtectBoundary: 0,
	}
}

// Field describes one setting: its flag name (also its JSON key), the first
// stage whose inputs include it, and one line of help naming the allowed values.
type Field struct {
	Name  string
	Stage string
	Usage string
	get   func(*Settings) string
	set   func(*Settings, string) error
}

// Default returns the field's value in DefaultSettings, formatted as Set accepts it.
func (f Field) Default() string {
	d := DefaultSettings()
	return f.get(&d)
}

// settingFields is the one list of settings; CLI flags, presets and JSON
// follow it. Order: pipeline order, method first.
var settingFields = []Field{
	strField("method", StageScore, "compression method: nexusquant, none, or a registered row codec",
		func(s *Settings) *string { return &s.Method }),
	{Name: "eviction_rate", Stage: StageEvict, Usage: "share of evictable positions dropped, in [0, 1)",
		get: func(s *Settings) string { return strconv.FormatFloat(s.EvictionRate, 'g', -1, 64) },
		set: func(s *Settings, v string) error {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return fmt.Errorf("eviction_rate %q: not a number", v)
			}
			s.EvictionRate = f
			return nil
		}},
	intField("sliding_window", StageEvict, "last W positions always kept, >= 0",
		func(s *Settings) *int { return &s.SlidingWindow }),
	strField("sliding_layers", StageEvict, "the window a sliding-window layer's cache holds: "+strings.Join(settingSlidingLayers, "|")+" (compress: evict and quantize it; float16: store it untouched)",
		func(s *Settings) *string { return &s.SlidingLayers }),
	intField("obs_window", StageScore, "observer window of the scorers, >= 1",
		func(s *Settings) *int { return &s.ObsWindow }),
	strField("scorer", StageScore, "importance scorer: "+strings.Join(scoreScorers, "|"),
		func(s *Settings) *string { return &s.Scorer }),
	strField("granularity", StageScore, "keep set per: "+strings.Join(scoreGranularities, "|"),
		func(s *Settings) *string { return &s.Granularity }),
	{Name: "seed", Stage: StageScore, Usage: "seed of the random scorer and the Hadamard signs",
		get: func(s *Settings) string { return strconv.FormatInt(s.Seed, 10) },
		set: func(s *Settings, v string) error {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return fmt.Errorf("seed %q: not an integer", v)
			}
			s.Seed = n
			return nil
		}},
	boolField("rope_undo", StageRoPE, "rotate kept keys back before quantizing (true|false)",
		func(s *Settings) *bool { return &s.RoPEUndo }),
	boolField("hadamard", StageHadamard, "Walsh–Hadamard rotation (true|false)",
		func(s *Settings) *bool { return &s.Hadamard }),
	boolField("hadamard_signs", StageHadamard, "seeded ±1 diagonal before the rotation (true|false, seeded|off)",
		func(s *Settings) *bool { return &s.HadamardSigns }),
	strField("lattice", StageQuantize, "quantization lattice: "+strings.Join(quantLattices, "|"),
		func(s *Settings) *string { return &s.Lattice }),
	intField("key_bits", StageQuantize, "key bits per coordinate: 2|3|4|5|6|8",
		func(s *Settings) *int { return &s.KeyBits }),
	intField("value_bits", StageQuantize, "value bits per coordinate: 2|3|4|5|6|8",
		func(s *Settings) *int { return &s.ValueBits }),
	intField("protect_boundary", StageQuantize, "first and last N layers kept as float16, 0..1024",
		func(s *Settings) *int { return &s.ProtectBoundary }),
	boolField("delta", StageEntropy, "delta-code code rows along tokens (true|false)",
		func(s *Settings) *bool { return &s.Delta }),
	strField("zstd_level", StageEntropy, "zstd level: "+strings.Join(settingZstdLevels, "|"),
		func(s *Settings) *string { return &s.ZstdLevel }),
	intField("block_tokens", StageEntropy, "kept tokens per decodable block, 1..65536",
		func(s *Settings) *int { return &s.BlockTokens }),
}

func strField(name, stage, usage string, p func(*Settings) *string) Field {
	return Field{Name: name, Stage: stage, Usage: usage,
		get: func(s *Settings) string { return *p(s) },
		set: func(s *Settings, v string) error { *p(s) = strings.TrimSpace(v); return nil }}
}

func intField(name, stage, usage string, p func(*Settings) *int) Field {
	return Field{Name: name, Stage: stage, Usage: usage,
		get: func(s *Settings) string { return strconv.Itoa(*p(s)) },
		set: func(s *Settings, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%s %q: not an integer", name, v)
			}
			*p(s) = n
			return nil
		}}
}

func boolField(name, stage, usage string, p func(*Settings) *bool) Field {
	return Field{Name: name, Stage: stage, Usage: usage,
		get: func(s *Settings) string { return strconv.FormatBool(*p(s)) },
		set: func(s *Settings, v string) error {
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "true", "1", "on", "yes", "seeded":
				*p(s) = true
			case "false", "0", "off", "no", "none":
				*p(s) = false
			default:
				return fmt.Errorf("%s %q: want true or false", name, v)
			}
			return nil
		}}
}

// Fields returns the settings in a stable order (method first, then pipeline
// order). The slice is a copy; the Field values are shared and immutable.
func Fields() []Field { return slices.Clone(settingFields) }

func lookupField(name string) (Field, error) {
	for _, f := range settingFields {
		if f.Name == name {
			return f, nil
		}
	}
	names := make([]string, len(settingFields))
	for i, f := range settingFields {
		names[i] = f.Name
	}
	return Field{}, fmt.Errorf("unknown setting %q: want one of %s", name, strings.Join(names, ", "))
}

// Set parses value into the setting called name (a flag name such as
// "eviction_rate"; hyphens are accepted for underscores). It checks only the
// syntax; call Validate for ranges.
func (s *Settings) Set(name, value string) error {
	f, err := lookupField(strings.ReplaceAll(name, "-", "_"))
	if err != nil {
		return err
	}
	return f.set(s, value)
}

// Get returns the setting called name formatted as Set accepts it.
func (s Settings) Get(name string) (string, error) {
	f, err := lookupField(strings.ReplaceAll(name, "-", "_"))
	if err != nil {
		return "", err
	}
	return f.get(&s), nil
}

// Validate checks every setting; the error names the first bad field, its
// value and the allowed range or set.
func (s Settings) Validate() error {
	if s.Method != MethodNexusQuant {
		if _, ok := lookupRowCodec(s.Method); !ok {
			return fmt.Errorf("method %q: want one of %s", s.Method, strings.Join(methodNames(), ", "))
		}
	}
	if !(s.EvictionRate >= 0 && s.EvictionRate < 1) || math.IsNaN(s.EvictionRate) {
		return fmt.Errorf("eviction_rate %v: want a value in [0, 1)", s.EvictionRate)
	}
	if s.SlidingWindow < 0 || s.SlidingWindow > maxSlidingWindow {
		return fmt.Errorf("sliding_window %d: want 0..%d", s.SlidingWindow, maxSlidingWindow)
	}
	if err := oneOf("sliding_layers", s.SlidingLayers, settingSlidingLayers); err != nil {
		return err
	}
	if s.ObsWindow < 1 || s.ObsWindow > maxObsWindow {
		return fmt.Errorf("obs_window %d: want 1..%d", s.ObsWindow, maxObsWindow)
	}
	if err := oneOf("scorer", s.Scorer, scoreScorers); err != nil {
		return err
	}
	if err := oneOf("granularity", s.Granularity, scoreGranularities); err != nil {
		return err
	}
	if err := oneOf("lattice", s.Lattice, quantLattices); err != nil {
		return err
	}
	if !slices.Contains(quantBits, s.KeyBits) {
		return fmt.Errorf("key_bits %d: want one of %v", s.KeyBits, quantBits)
	}
	if !slices.Contains(quantBits, s.ValueBits) {
		return fmt.Errorf("value_bits %d: want one of %v", s.ValueBits, quantBits)
	}
	if err := oneOf("zstd_level", s.ZstdLevel, settingZstdLevels); err != nil {
		return err
	}
	if s.BlockTokens < 1 || s.BlockTokens > MaxBlockTokens {
		return fmt.Errorf("block_tokens %d: want 1..%d", s.BlockTokens, MaxBlockTokens)
	}
	if s.ProtectBoundary < 0 || s.ProtectBoundary > maxProtectBoundary {
		return fmt.Errorf("protect_boundary %d: want 0..%d", s.ProtectBoundary, maxProtectBoundary)
	}
	return nil
}

func oneOf(field, v string, allowed []string) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	return fmt.Errorf("%s %q: want one of %s", field, v, strings.Join(allowed, "|"))
}

// stageKeys returns, per stage in pipeline order, a string that identifies
// everything the stage's output depends on, its own settings and every earlier
// stage's (key i is a prefix of key i+1). Settings a stage ignores under the
// current method are left out, so changing them re-runs nothing: the seed
// only matters to the random scorer and to seeded Hadamard signs, and method
// "none" ignores every setting but block_tokens. sliding_layers enters the
// keys only at its non-default value (a Pipeline over a model without
// sliding-window layers resets it to the default first, see stageKeysFor).
func stageKeys(s Settings) [6]string {
	var k [6]string
	sliding := ""
	if s.SlidingLayers != SlidingCompress && s.Method != MethodNone {
		sliding = "|sliding=" + s.SlidingLayers
	}
	if c, ok := lookupRowCodec(s.Method); ok {
		base := "method=" + s.Method
		if c.Evicts() {
			base += scoreKey(s)
			k[0] = base
			base += fmt.Sprintf("|rate=%v|window=%d", s.EvictionRate, s.SlidingWindow)
		} else {
			k[0] = base
		}
		base += sliding
		k[1], k[2], k[3] = base, base, base
		k[4] = base + fmt.Sprintf("|protect=%d", s.ProtectBoundary)
		k[5] = k[4] + fmt.Sprintf("|block=%d", s.BlockTokens)
		return k
	}
	k[0] = "method=" + s.Method + scoreKey(s)
	k[1] = k[0] + fmt.Sprintf("|rate=%v|window=%d", s.EvictionRate, s.SlidingWindow) + sliding
	k[2] = k[1] + fmt.Sprintf("|rope=%t", s.RoPEUndo)
	k[3] = k[2] + fmt.Sprintf("|hadamard=%t", s.Hadamard)
	if s.Hadamard && s.HadamardSigns {
		k[3] += fmt.Sprintf("|signs=%d", s.Seed)
	}
	k[4] = k[3] + fmt.Sprintf("|lattice=%s|kbits=%d|vbits=%d|protect=%d", s.Lattice, s.KeyBits, s.ValueBits, s.ProtectBoundary)
	k[5] = k[4] + fmt.Sprintf("|delta=%t|zstd=%s|block=%d", s.Delta, s.ZstdLevel, s.BlockTokens)
	return k
}

func scoreKey(s Settings) string {
	k := fmt.Sprintf("|scorer=%s|gran=%s|obs=%d", s.Scorer, s.Granularity, s.ObsWindow)
	if s.Scorer == "random" {
		k += fmt.Sprintf("|seed=%d", s.Seed)
	}
	return k
}

// FirstChangedStage returns the name of the first stage (in pipeline order)
// whose inputs differ between a and b, or "" when running a and b gives the
// same result. It is the stage a Pipeline re-runs from.
func FirstChangedStage(a, b Settings) string {
	ka, kb := stageKeys(a), stageKeys(b)
	for i := range ka {
		if ka[i] != kb[i] {
			return StageNames[i]
		}
	}
	return ""
}
