package stages

// LookupRowCodec returns the registered RowCodec of a method name.
func LookupRowCodec(name string) (RowCodec, bool) { return lookupRowCodec(name) }

// Methods lists the valid Settings.Method values, nexusquant first.
func Methods() []string { return methodNames() }
