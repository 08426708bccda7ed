package engine

// TEMPORARY shim until wt-demo lands.
type Shape struct {
	Path, Name, Arch              string
	Layers, KVHeads, HeadDim, Ctx int
	Params                        int64
	WeightBytes                   int64
	WeightType                    string
}
