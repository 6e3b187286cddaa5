//go:build race

package protoalias

const raceEnabled = true
