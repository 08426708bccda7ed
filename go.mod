module nexusquant

go 1.26.8

require (
	github.com/ebitengine/purego v0.11.3 // indirect
	github.com/guptarohit/asciigraph v0.10.0 // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	golang.org/x/sys v0.50.0
)
