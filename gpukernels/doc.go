// Package gpukernels will hold the CUDA sources of the forward pass and the
// compression stages, their build script, and the purego binding that loads
// libnqkernels.so at run time (DESIGN.md, gpukernels/).
//
// Not built yet: every computation runs on the CPU (engine, stages).
package gpukernels
