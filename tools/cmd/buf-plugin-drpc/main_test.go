package main

import (
	"cmp"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"buf.build/go/bufplugin/check"
	"buf.build/go/bufplugin/check/checktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// schemaDir is the repository's proto/ folder: the fixtures import
// drpc/v1/options.proto from there, and the real schema must pass.
var schemaDir = filepath.Join("..", "..", "..", "proto")

// annotation is what a test expects of one annotation: the rule, where it
// points (file and 1-based line, and the line in the previous schema for
// breaking rules), and a part of its message.
type annotation struct {
	rule        string
	file        string
	line        int
	againstLine int
	message     string
}

// run checks files (and, for breaking rules, against) with the plugin's
// rules ruleIDs and returns the annotations, ordered by file, line, rule
// and message.
func run(t *testing.T, files, against *checktest.ProtoFileSpec, ruleIDs []string) []annotation {
	t.Helper()
	req, err := (&checktest.RequestSpec{Files: files, AgainstFiles: against, RuleIDs: ruleIDs}).ToRequest(t.Context())
	require.NoError(t, err)
	client, err := check.NewClientForSpec(spec)
	require.NoError(t, err)
	resp, err := client.Check(t.Context(), req)
	require.NoError(t, err)

	var out []annotation
	for _, a := range resp.Annotations() {
		got := annotation{rule: a.RuleID(), message: a.Message()}
		if loc := a.FileLocation(); loc != nil {
			got.file = loc.FileDescriptor().ProtoreflectFileDescriptor().Path()
			got.line = loc.StartLine() + 1
		}
		if loc := a.AgainstFileLocation(); loc != nil {
			got.againstLine = loc.StartLine() + 1
		}
		out = append(out, got)
	}
	slices.SortStableFunc(out, func(a, b annotation) int {
		return cmp.Or(cmp.Compare(a.file, b.file), cmp.Compare(a.line, b.line), cmp.Compare(a.rule, b.rule), cmp.Compare(a.message, b.message))
	})
	return out
}

// requireAnnotations compares got with want; the messages of want are
// substrings of the messages of got.
func requireAnnotations(t *testing.T, want, got []annotation) {
	t.Helper()
	require.Len(t, got, len(want), "annotations: %+v", got)
	for i := range want {
		assert.Equal(t, want[i].rule, got[i].rule, "annotation %d: %+v", i, got[i])
		assert.Equal(t, want[i].file, got[i].file, "annotation %d: %+v", i, got[i])
		assert.Equal(t, want[i].line, got[i].line, "annotation %d: %+v", i, got[i])
		assert.Equal(t, want[i].againstLine, got[i].againstLine, "annotation %d: %+v", i, got[i])
		assert.Contains(t, got[i].message, want[i].message, "annotation %d", i)
	}
}

// ruleIDs lists the plugin's rules of one type.
func ruleIDs(typ check.RuleType) []string {
	var ids []string
	for _, r := range spec.Rules {
		if r.Type == typ {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

func TestSpec(t *testing.T) {
	checktest.SpecTest(t, spec)
	assert.Len(t, ruleIDs(check.RuleTypeLint), 6)
	assert.Len(t, ruleIDs(check.RuleTypeBreaking), 4)
}

// TestLintRules runs every lint rule on one fixture per rule under
// testdata/lint: each fixture breaks one rule only, and the good one none.
// The expected annotations are in run's order.
func TestLintRules(t *testing.T) {
	tests := []struct {
		file string
		want []annotation
	}{
		{"good.proto", nil},
		{"module_id_missing.proto", []annotation{
			{rule: ruleServiceModuleID, line: 11, message: `Service "lint.missing.v1.NoModuleService" has no (drpc.v1.module_id)`},
			{rule: ruleServiceModuleID, line: 18, message: `Service "lint.missing.v1.NegativeService" has module ID -3; module IDs are 0..21474835`},
		}},
		{"module_id_unique.proto", []annotation{
			{rule: ruleModuleIDUnique, line: 10, message: `Service "lint.unique.v1.FirstService" has module ID 5, as "lint.unique.v1.SecondService", "lint.unique.v1.ThirdService": module IDs must be unique`},
			{rule: ruleModuleIDUnique, line: 17, message: `Service "lint.unique.v1.SecondService" has module ID 5, as "lint.unique.v1.FirstService", "lint.unique.v1.ThirdService"`},
			{rule: ruleModuleIDUnique, line: 24, message: `Service "lint.unique.v1.ThirdService" has module ID 5, as "lint.unique.v1.FirstService", "lint.unique.v1.SecondService"`},
		}},
		{"method_id_missing.proto", []annotation{
			{rule: ruleRPCMethodID, line: 15, message: `RPC "lint.rpcid.v1.FiveService.B" has no (drpc.v1.method_id)`},
		}},
		{"method_id_range.proto", []annotation{
			{rule: ruleMethodIDRange, line: 15, message: `RPC "lint.range.v1.FiveService.Low" has method ID 500, outside the range 501..599 of module 5`},
			{rule: ruleMethodIDRange, line: 18, message: `RPC "lint.range.v1.FiveService.High" has method ID 600, outside the range 501..599`},
		}},
		{"method_id_unique.proto", []annotation{
			{rule: ruleMethodIDUnique, line: 15, message: `RPC "lint.methodunique.v1.FiveService.B" has method ID 502, as "lint.methodunique.v1.FiveService.C"`},
			{rule: ruleMethodIDUnique, line: 18, message: `RPC "lint.methodunique.v1.FiveService.C" has method ID 502, as "lint.methodunique.v1.FiveService.B"`},
		}},
		{"reserved.proto", []annotation{
			{rule: ruleReservedMethodIDs, line: 11, message: `lists reserved method ID 503 more than once`},
			{rule: ruleReservedMethodIDs, line: 11, message: `reserves method ID 601, outside the range 501..599 of its module 5`},
			{rule: ruleReservedMethodIDs, line: 18, message: `RPC "lint.reserved.v1.FiveService.A" has method ID 502, which service "lint.reserved.v1.FiveService" reserves`},
		}},
		{"import_conflict.proto", []annotation{
			{rule: ruleModuleIDUnique, line: 12, message: `has module ID 5, as "lint.good.v1.FiveService"`},
			{rule: ruleReservedMethodIDs, line: 16, message: `has method ID 503, which service "lint.good.v1.FiveService" reserves`},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			for i := range tc.want {
				tc.want[i].file = tc.file
			}
			files := &checktest.ProtoFileSpec{
				DirPaths:  []string{filepath.Join("testdata", "lint"), schemaDir},
				FilePaths: []string{tc.file},
			}
			requireAnnotations(t, tc.want, run(t, files, nil, ruleIDs(check.RuleTypeLint)))
		})
	}
}

// TestBreakingRules runs every breaking rule on the fixtures under
// testdata/breaking/<case>: current/ is checked against previous/.
func TestBreakingRules(t *testing.T) {
	tests := []struct {
		name string
		want []annotation
	}{
		{"compatible", nil},
		{"module_id_changed", []annotation{
			{rule: ruleModuleIDNoChange, line: 9, againstLine: 9, message: `Service "breaking.v1.FiveService" changed its module ID from 5 to 6`},
			{rule: ruleModuleIDNoChange, line: 14, againstLine: 14, message: `Service "breaking.v1.SevenService" lost its module ID 7`},
		}},
		{"method_id_changed", []annotation{
			{rule: ruleMethodIDNoChange, line: 11, againstLine: 11, message: `RPC "breaking.v1.FiveService.A" changed its method ID from 501 to 502`},
			{rule: ruleMethodIDNoChange, line: 12, againstLine: 12, message: `RPC "breaking.v1.FiveService.B" lost its method ID 502`},
		}},
		{"rpc_deleted", []annotation{
			{rule: ruleRPCNoDeleteUnlessReserve, line: 11, againstLine: 12, message: `RPC "breaking.v1.FiveService.B" (method ID 502) was deleted without reserving its ID: add 502 to the (drpc.v1.reserved_method_ids)`},
		}},
		{"reserved_removed", []annotation{
			{rule: ruleReservedIDNoDelete, line: 9, againstLine: 9, message: `Service "breaking.v1.FiveService" no longer reserves method ID 503`},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i := range tc.want {
				tc.want[i].file = "svc.proto"
			}
			dir := filepath.Join("testdata", "breaking", tc.name)
			files := &checktest.ProtoFileSpec{DirPaths: []string{filepath.Join(dir, "current"), schemaDir}, FilePaths: []string{"svc.proto"}}
			against := &checktest.ProtoFileSpec{DirPaths: []string{filepath.Join(dir, "previous"), schemaDir}, FilePaths: []string{"svc.proto"}}
			requireAnnotations(t, tc.want, run(t, files, against, ruleIDs(check.RuleTypeBreaking)))
		})
	}
}

// ignoredInSchema are the ignore_only exceptions of the repository's
// buf.yaml for this plugin's rules: the gRPC service of mgmt/mgmt.proto is
// no dRPC module. TestRepositorySchema checks that buf.yaml lists them.
var ignoredInSchema = map[string][]string{
	ruleServiceModuleID: {"mgmt/mgmt.proto"},
	ruleRPCMethodID:     {"mgmt/mgmt.proto"},
}

// TestRepositorySchema runs every rule on the repository's schema, alone
// and against itself: it follows the rules, but for the exceptions that
// buf.yaml lists (ignoredInSchema), which this test checks are reported, so
// that an exception that is no longer needed is noticed.
func TestRepositorySchema(t *testing.T) {
	bufYAML, err := os.ReadFile(filepath.Join(schemaDir, "..", "buf.yaml"))
	require.NoError(t, err)
	for rule, files := range ignoredInSchema {
		for _, f := range files {
			require.Regexp(t, `(?m)^    `+rule+`:\n      - proto/`+regexp.QuoteMeta(f)+`$`, string(bufYAML), "buf.yaml must ignore %s for %s", rule, f)
		}
	}
	withoutIgnored := func(got []annotation) []annotation {
		var out []annotation
		for _, a := range got {
			if !slices.Contains(ignoredInSchema[a.rule], a.file) {
				out = append(out, a)
			}
		}
		return out
	}

	var paths []string
	err = filepath.WalkDir(schemaDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".proto" {
			return err
		}
		rel, err := filepath.Rel(schemaDir, path)
		paths = append(paths, filepath.ToSlash(rel))
		return err
	})
	require.NoError(t, err)
	files := &checktest.ProtoFileSpec{DirPaths: []string{schemaDir}, FilePaths: paths}
	var all []string
	for _, r := range spec.Rules {
		all = append(all, r.ID)
	}
	lint := run(t, files, nil, all)
	assert.Empty(t, withoutIgnored(lint))
	for rule, files := range ignoredInSchema {
		for _, f := range files {
			assert.True(t, slices.ContainsFunc(lint, func(a annotation) bool { return a.rule == rule && a.file == f }),
				"%s no longer reports %s: drop its exception from buf.yaml and ignoredInSchema", rule, f)
		}
	}
	assert.Empty(t, withoutIgnored(run(t, files, files, all)))
}
