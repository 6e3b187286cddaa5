// Package metricstest scrapes a Prometheus text endpoint in tests, so that a
// daemon's test can check the counts it exports:
//
//	s, err := metricstest.Scrape(ctx, "http://127.0.0.1:41234/metrics")
//	n, ok := s.Value("drpc_server_calls_started_total", "module", "1", "method", name)
package metricstest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// Sample is one line of the text format: a series and its value.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Samples are the samples of one scrape.
type Samples []Sample

// Value returns the value of the series name whose labels include the given
// label name/value pairs, and whether there is one. With several matches it
// returns their sum (e.g. calls finished over every status).
func (s Samples) Value(name string, labelPairs ...string) (float64, bool) {
	found, sum := false, 0.0
	for _, smp := range s {
		if smp.Name != name || !smp.matches(labelPairs) {
			continue
		}
		found = true
		sum += smp.Value
	}
	return sum, found
}

func (smp Sample) matches(pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		if smp.Labels[pairs[i]] != pairs[i+1] {
			return false
		}
	}
	return true
}

// Scrape fetches url and parses the Prometheus text format.
func Scrape(ctx context.Context, url string) (Samples, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return nil, fmt.Errorf("scrape %s: %s: %s", url, resp.Status, b)
	}
	return Parse(resp.Body)
}

var reLabel = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// Parse reads samples in the Prometheus text format (comments are skipped).
func Parse(r io.Reader) (Samples, error) {
	var out Samples
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		series, value, ok := cutValue(line)
		if !ok {
			return nil, fmt.Errorf("metricstest: cannot parse line %q", line)
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return nil, fmt.Errorf("metricstest: bad value in line %q: %w", line, err)
		}
		smp := Sample{Name: series, Labels: map[string]string{}, Value: v}
		if i := strings.IndexByte(series, '{'); i >= 0 {
			smp.Name = series[:i]
			for _, m := range reLabel.FindAllStringSubmatch(series[i:], -1) {
				unq, err := strconv.Unquote(`"` + m[2] + `"`)
				if err != nil {
					unq = m[2]
				}
				smp.Labels[m[1]] = unq
			}
		}
		out = append(out, smp)
	}
	return out, sc.Err()
}

// cutValue splits "series value [timestamp]" after the closing brace (label
// values may hold spaces).
func cutValue(line string) (series, value string, ok bool) {
	start := 0
	if i := strings.LastIndexByte(line, '}'); i >= 0 {
		start = i
	}
	rest := strings.Fields(line[start:])
	if start == 0 {
		if len(rest) < 2 {
			return "", "", false
		}
		return rest[0], rest[1], true
	}
	if len(rest) < 2 {
		return "", "", false
	}
	return line[:start+1], rest[1], true
}
