package metricstest_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/metrics/metricstest"
)

func TestParse(t *testing.T) {
	in := `# HELP x help
# TYPE x counter
x 3
y{a="1",b="two words"} 4.5
y{a="2",b="q\"uote"} 1 1700000000
z{le="+Inf"} +Inf
`
	s, err := metricstest.Parse(strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, s, 4)
	v, ok := s.Value("x")
	require.True(t, ok)
	assert.Equal(t, 3.0, v)
	v, ok = s.Value("y", "b", "two words")
	require.True(t, ok)
	assert.Equal(t, 4.5, v)
	v, ok = s.Value("y")
	require.True(t, ok)
	assert.Equal(t, 5.5, v, "several matches add up")
	v, ok = s.Value("y", "b", `q"uote`)
	require.True(t, ok)
	assert.Equal(t, 1.0, v)
	_, ok = s.Value("y", "a", "3")
	assert.False(t, ok)

	_, err = metricstest.Parse(strings.NewReader("lonely\n"))
	require.Error(t, err)
	_, err = metricstest.Parse(strings.NewReader("x abc\n"))
	require.Error(t, err)
}
