//go:build !race

package protoalias

const raceEnabled = false
