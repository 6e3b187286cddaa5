package ids

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConstants(t *testing.T) {
	assert.Equal(t, 100, ModuleMethodOffset)
	assert.Equal(t, 21474835, MaxModuleID)
	_, last := MethodRange(MaxModuleID)
	assert.LessOrEqual(t, int64(last), int64(math.MaxInt32), "the last module's IDs fit in an int32")
	assert.Greater(t, int64(MaxModuleID+1)*ModuleMethodOffset+ModuleMethodOffset-1, int64(math.MaxInt32),
		"one more module would not fit")
}

func TestRanges(t *testing.T) {
	tests := []struct {
		name        string
		module      int32
		valid       bool
		first, last int32
	}{
		{"test module 0", 0, true, 1, 99},
		{"module 1", 1, true, 101, 199},
		{"module 25", 25, true, 2501, 2599},
		{"largest module", MaxModuleID, true, 2147483501, 2147483599},
		{"negative", -1, false, 1, 0},
		{"most negative", math.MinInt32, false, 1, 0},
		{"one past the largest", MaxModuleID + 1, false, 1, 0},
		{"largest int32", math.MaxInt32, false, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.valid, ValidModule(tc.module))
			first, last := MethodRange(tc.module)
			assert.Equal(t, tc.first, first)
			assert.Equal(t, tc.last, last)
			if tc.valid {
				assert.True(t, Owns(tc.module, first))
				assert.True(t, Owns(tc.module, last))
				assert.False(t, Owns(tc.module, first-1), "the module's own offset, N*100")
				assert.False(t, Owns(tc.module, last+1), "the next module's offset")
			} else {
				assert.False(t, Owns(tc.module, first))
				assert.False(t, Owns(tc.module, 0))
			}
		})
	}
}

func TestOwns(t *testing.T) {
	tests := []struct {
		module, method int32
		want           bool
	}{
		{0, 0, false},
		{0, 1, true},
		{0, 99, true},
		{0, 100, false},
		{0, -1, false},
		{1, 101, true},
		{1, 1, false},
		{2, 218, true},
		{2, 318, false},
		{3, 300, false},
		{-1, -99, false},
		{-1, -1, false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, Owns(tc.module, tc.method), "Owns(%d, %d)", tc.module, tc.method)
	}
}

// step is one call on a Set.
type step struct {
	op     string // "module", "method" or "reserve"
	module int32
	id     int32 // the method ID ("method", "reserve"); unused for "module"
	name   string
}

func (s step) apply(set *Set) error {
	switch s.op {
	case "module":
		return set.AddModule(s.module, s.name)
	case "method":
		return set.AddMethod(s.module, s.id, s.name)
	default:
		return set.Reserve(s.module, s.id, s.name)
	}
}

func TestSet(t *testing.T) {
	tests := []struct {
		name    string
		before  []step // must all succeed
		step    step
		rule    error // nil: the step succeeds
		holder  string
		message string // part of the error's message
	}{
		{"first module", nil, step{"module", 2, 0, "mgmt"}, nil, "", ""},
		{"module 0", nil, step{"module", 0, 0, "test"}, nil, "", ""},
		{"largest module", nil, step{"module", MaxModuleID, 0, "last"}, nil, "", ""},
		{"same module again", []step{{"module", 2, 0, "mgmt"}}, step{"module", 2, 0, "mgmt"}, nil, "", ""},
		{"negative module", nil, step{"module", -1, 0, "neg"}, ErrInvalidModuleID, "",
			`module "neg" has ID -1, want 0..21474835: choose a module ID in that range`},
		{"module too large", nil, step{"module", MaxModuleID + 1, 0, "big"}, ErrInvalidModuleID, "", "want 0..21474835"},
		{"duplicate module", []step{{"module", 2, 0, "mgmt"}}, step{"module", 2, 0, "impostor"}, ErrDuplicateModuleID, "mgmt",
			`module "impostor" has ID 2, which module "mgmt" already has: module IDs must be unique; give "impostor" an unused module ID`},
		{"unnamed module", []step{{"module", 2, 0, "mgmt"}}, step{"module", 2, 0, ""}, ErrDuplicateModuleID, "mgmt", "module (unnamed) has ID 2"},

		{"first method", nil, step{"method", 2, 201, "m.A"}, nil, "", ""},
		{"method of a module not added", []step{{"module", 3, 0, "srv"}}, step{"method", 2, 299, "m.A"}, nil, "", ""},
		{"same method again", []step{{"method", 2, 201, "m.A"}}, step{"method", 2, 201, "m.A"}, nil, "", ""},
		{"method of an invalid module", nil, step{"method", -1, -99, "m.A"}, ErrInvalidModuleID, "",
			`method "m.A" (ID -99) belongs to module -1, which is not a valid module ID (want 0..21474835): fix the module ID first`},
		{"method below the range", nil, step{"method", 1, 100, "m.A"}, ErrMethodOutOfRange, "",
			`method "m.A" of module 1 has ID 100, outside the module's range 101..199: module N owns the method IDs N*100+1..N*100+99; give "m.A" an ID in 101..199`},
		{"method above the range", nil, step{"method", 1, 200, "m.A"}, ErrMethodOutOfRange, "", "outside the module's range 101..199"},
		{"method ID 0", nil, step{"method", 0, 0, "t.Zero"}, ErrMethodOutOfRange, "", "outside the module's range 1..99"},
		{"duplicate method in a module", []step{{"method", 1, 101, "s.A"}}, step{"method", 1, 101, "s.B"}, ErrDuplicateMethodID, "s.A",
			`method "s.B" has ID 101, which method "s.A" already has: method IDs must be unique across all modules; give "s.B" an unused ID in 101..199`},
		{"same name, other module", []step{{"method", 1, 101, "s.A"}}, step{"method", 0, 1, "s.A"}, nil, "", ""},
		{"method reserved by its module", []step{{"reserve", 1, 103, "s"}}, step{"method", 1, 103, "s.A"}, ErrReservedMethodID, "s",
			`method "s.A" has ID 103, which module "s" reserves: the ID of a removed method must not be used again; give "s.A" an unused ID in 101..199`},

		{"reserve", nil, step{"reserve", 5, 503, "five"}, nil, "", ""},
		{"reserve twice", []step{{"reserve", 5, 503, "five"}}, step{"reserve", 5, 503, "five"}, nil, "", ""},
		{"reserve of an invalid module", nil, step{"reserve", -5, 503, "five"}, ErrInvalidModuleID, "",
			`module "five" reserves method ID 503, but its module ID -5 is not valid`},
		{"reserve outside the range", nil, step{"reserve", 5, 601, "five"}, ErrMethodOutOfRange, "",
			`module "five" (ID 5) reserves method ID 601, outside its range 501..599: a module reserves IDs of its own range only; remove 601 from its reserved IDs`},
		{"reserve an ID in use", []step{{"method", 5, 502, "five.A"}}, step{"reserve", 5, 502, "five"}, ErrReservedMethodID, "five.A",
			`module "five" reserves method ID 502, which method "five.A" uses: the ID of a removed method must not be used again; give "five.A" another ID, or do not reserve 502`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var set Set
			for _, s := range tc.before {
				require.NoError(t, s.apply(&set), "%+v", s)
			}
			err := tc.step.apply(&set)
			if tc.rule == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.rule)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.rule, e.Rule)
			assert.Equal(t, tc.step.module, e.Module)
			assert.Equal(t, tc.step.name, e.Name)
			assert.Equal(t, tc.holder, e.Holder)
			if tc.step.op != "module" {
				assert.Equal(t, tc.step.id, e.Method)
			}
			assert.Contains(t, err.Error(), tc.message)
			for _, other := range []error{ErrInvalidModuleID, ErrDuplicateModuleID, ErrMethodOutOfRange, ErrDuplicateMethodID, ErrReservedMethodID} {
				if other != tc.rule {
					assert.NotErrorIs(t, err, other)
				}
			}
		})
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		err  error
		rule error
	}{
		{"valid module", CheckModule(3, "srv"), nil},
		{"invalid module", CheckModule(-3, "neg"), ErrInvalidModuleID},
		{"valid method", CheckMethod(3, 301, "srv.A"), nil},
		{"method of an invalid module", CheckMethod(-3, 301, "neg.A"), ErrInvalidModuleID},
		{"method outside its range", CheckMethod(3, 401, "srv.A"), ErrMethodOutOfRange},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.rule == nil {
				assert.NoError(t, tc.err)
				return
			}
			assert.ErrorIs(t, tc.err, tc.rule)
		})
	}
	var set Set
	assert.Equal(t, set.AddMethod(3, 401, "srv.A"), CheckMethod(3, 401, "srv.A"), "AddMethod reports what CheckMethod does")
}

// TestSetRecordsNothingOnError checks that a refused module or method does
// not take its ID.
func TestSetRecordsNothingOnError(t *testing.T) {
	var set Set
	require.NoError(t, set.AddModule(1, "one"))
	require.Error(t, set.AddModule(1, "other"))
	require.Error(t, set.AddMethod(1, 201, "one.Out"))
	require.NoError(t, set.AddMethod(2, 201, "two.A"), "the refused method did not take 201")
	require.NoError(t, set.AddMethod(1, 101, "one.A"))
	require.Error(t, set.AddMethod(1, 101, "one.B"))
	require.NoError(t, set.Reserve(1, 102, "one"))
	require.Error(t, set.Reserve(1, 101, "one"))
	assert.NoError(t, set.AddMethod(1, 101, "one.A"), "the refused reservation did not take 101")
	assert.ErrorIs(t, set.AddMethod(1, 102, "one.C"), ErrReservedMethodID)
}

// TestErrorWrapped checks that an *Error is still found when a caller
// wraps it with context.
func TestErrorWrapped(t *testing.T) {
	var set Set
	err := set.AddModule(-1, "bad")
	wrapped := errors.Join(errors.New("other"), fmt.Errorf("register: %w", err))
	assert.ErrorIs(t, wrapped, ErrInvalidModuleID)
	var e *Error
	require.ErrorAs(t, wrapped, &e)
	assert.Equal(t, int32(-1), e.Module)
}

// FuzzOwns checks the range rules on any pair of IDs: every positive
// method ID that is not a multiple of 100 belongs to exactly one module,
// module ID method/100, and no ID belongs to an invalid module.
func FuzzOwns(f *testing.F) {
	for _, seed := range [][2]int32{{0, 1}, {0, 0}, {1, 101}, {2, 300}, {-1, -1}, {MaxModuleID, math.MaxInt32}, {MaxModuleID + 1, 2147483601}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, module, method int32) {
		first, last := MethodRange(module)
		owns := Owns(module, method)
		if !ValidModule(module) {
			require.False(t, owns)
			require.Greater(t, first, last, "empty range")
			return
		}
		require.Equal(t, method >= first && method <= last, owns)
		require.Equal(t, int64(module)*ModuleMethodOffset+1, int64(first))
		require.Equal(t, int64(first)+ModuleMethodOffset-2, int64(last))
		want := method > 0 && method%ModuleMethodOffset != 0 && method/ModuleMethodOffset == module
		require.Equal(t, want, owns, "Owns(%d, %d)", module, method)
	})
}
