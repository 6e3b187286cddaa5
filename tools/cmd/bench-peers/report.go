package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// report is everything a run measured, as -json writes it.
type report struct {
	Date    string      `json:"date"`
	Command string      `json:"command"`
	Machine machineInfo `json:"machine"`
	Config  configInfo  `json:"config"`
	Cells   []*cell     `json:"cells"`

	index map[cellKey]*cell
	cfg   *config
}

type machineInfo struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model"`
	Kernel     string `json:"kernel"`
	Go         string `json:"go"`
}

type configInfo struct {
	Rounds     int   `json:"rounds"`
	DurationNs int64 `json:"duration_ns"`
	WarmupNs   int64 `json:"warmup_ns"`
	Sizes      []int `json:"sizes"`
	Conns      []int `json:"conns"`
	Transports []row `json:"transports"`
}

// row names and describes a transport.
type row struct {
	Name  string `json:"name"`
	About string `json:"about"`
}

// cell is one transport at one size and number of connections: every
// round's sample and their medians (over the rounds without an error).
type cell struct {
	Transport string   `json:"transport"`
	Size      int      `json:"size"`
	Conns     int      `json:"conns"`
	Rounds    []sample `json:"rounds"`
	// GoodRounds counts the rounds without an error.
	GoodRounds int `json:"good_rounds"`
	// Median holds the median of every metric over the good rounds; absent
	// if every round failed.
	Median *sample `json:"median,omitempty"`
	// SpreadPct is (max - min) / median of calls/s over the good rounds, in
	// percent.
	SpreadPct float64 `json:"spread_pct"`
	// VsRaw and VsDRPC are the median calls/s over raw's and drpc's at the
	// same size and connections.
	VsRaw  *float64 `json:"vs_raw,omitempty"`
	VsDRPC *float64 `json:"vs_drpc,omitempty"`
}

func newReport(cfg *config) *report {
	rows := make([]row, len(cfg.transports))
	for i, t := range cfg.transports {
		rows[i] = row{Name: t.name, About: t.about}
	}
	return &report{
		Date:    time.Now().UTC().Format(time.RFC3339),
		Command: strings.Join(append([]string{"bench-peers"}, cfg.args...), " "),
		Machine: readMachine(),
		Config: configInfo{
			Rounds: cfg.rounds, DurationNs: cfg.duration.Nanoseconds(), WarmupNs: cfg.warmup.Nanoseconds(),
			Sizes: cfg.sizes, Conns: cfg.conns, Transports: rows,
		},
		index: map[cellKey]*cell{},
		cfg:   cfg,
	}
}

func (r *report) add(k cellKey, s sample) {
	c := r.index[k]
	if c == nil {
		c = &cell{Transport: k.transport, Size: k.size, Conns: k.conns}
		r.index[k] = c
	}
	c.Rounds = append(c.Rounds, s)
}

// finish orders the cells as the tables do and computes the medians and
// ratios.
func (r *report) finish() {
	r.Cells = r.Cells[:0]
	for _, size := range r.cfg.sizes {
		for _, conns := range r.cfg.conns {
			for _, t := range r.cfg.transports {
				if c := r.index[cellKey{t.name, size, conns}]; c != nil {
					c.summarize()
					r.Cells = append(r.Cells, c)
				}
			}
		}
	}
	for _, c := range r.Cells {
		c.VsRaw = r.ratio(c, rawName)
		c.VsDRPC = r.ratio(c, drpcName)
	}
}

func (r *report) ratio(c *cell, base string) *float64 {
	b := r.index[cellKey{base, c.Size, c.Conns}]
	if c.Median == nil || b == nil || b.Median == nil || b.Median.CallsPerSec == 0 {
		return nil
	}
	v := c.Median.CallsPerSec / b.Median.CallsPerSec
	return &v
}

func (c *cell) summarize() {
	var good []sample
	for _, s := range c.Rounds {
		if s.Error == "" {
			good = append(good, s)
		}
	}
	if len(good) == 0 {
		return
	}
	med := func(f func(sample) float64) float64 {
		v := make([]float64, len(good))
		for i, s := range good {
			v[i] = f(s)
		}
		return median(v)
	}
	c.GoodRounds = len(good)
	m := sample{
		Calls:              uint64(med(func(s sample) float64 { return float64(s.Calls) })),
		ElapsedNs:          int64(med(func(s sample) float64 { return float64(s.ElapsedNs) })),
		CallsPerSec:        med(func(s sample) float64 { return s.CallsPerSec }),
		P50Ns:              med(func(s sample) float64 { return s.P50Ns }),
		P99Ns:              med(func(s sample) float64 { return s.P99Ns }),
		AllocsPerCall:      med(func(s sample) float64 { return s.AllocsPerCall }),
		BytesPerCall:       med(func(s sample) float64 { return s.BytesPerCall }),
		ClientCPUNsPerCall: med(func(s sample) float64 { return s.ClientCPUNsPerCall }),
		ServerCPUNsPerCall: med(func(s sample) float64 { return s.ServerCPUNsPerCall }),
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range good {
		lo, hi = min(lo, s.CallsPerSec), max(hi, s.CallsPerSec)
	}
	c.Median = &m
	if m.CallsPerSec > 0 {
		c.SpreadPct = 100 * (hi - lo) / m.CallsPerSec
	}
}

// median of v (the mean of the middle two for an even count).
func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// failures counts the cell runs that ended in an error.
func (r *report) failures() int {
	n := 0
	for _, c := range r.Cells {
		for _, s := range c.Rounds {
			if s.Error != "" {
				n++
			}
		}
	}
	return n
}

// writeReport prints the Markdown tables: one per body size and number of
// connections.
func writeReport(w io.Writer, r *report) error {
	b := bufio.NewWriter(w)
	m := r.Machine
	fmt.Fprintf(b, "# bench-peers\n\n")
	fmt.Fprintf(b, "- date: %s\n", r.Date)
	fmt.Fprintf(b, "- command: `%s`\n", r.Command)
	fmt.Fprintf(b, "- machine: %d CPUs (GOMAXPROCS %d), %s, Linux %s, %s\n", m.CPUs, m.GOMAXPROCS, m.CPUModel, m.Kernel, m.Go)
	fmt.Fprintf(b, "- method: server in a second process; median of %d interleaved round(s); each cell %v timed after %v of warm-up; one goroutine per connection, calls back to back, every echo verified\n",
		r.Config.Rounds, time.Duration(r.Config.DurationNs), time.Duration(r.Config.WarmupNs))
	fmt.Fprintf(b, "- rows:\n")
	for _, t := range r.Config.Transports {
		fmt.Fprintf(b, "  - %s: %s\n", t.Name, t.About)
	}
	fmt.Fprintf(b, "- columns: x raw and x drpc are calls/s over raw's and drpc's in the same table; spread is (max - min) / median of calls/s over the rounds; p50 and p99 are call latencies; allocs and bytes are the client's per call; CPU is each process's user+system time per call\n")
	for _, size := range r.cfg.sizes {
		for _, conns := range r.cfg.conns {
			var rows []*cell
			for _, c := range r.Cells {
				if c.Size == size && c.Conns == conns {
					rows = append(rows, c)
				}
			}
			if len(rows) == 0 {
				continue
			}
			plural := "s"
			if conns == 1 {
				plural = ""
			}
			fmt.Fprintf(b, "\n## %s, %d connection%s\n\n", sizeLabel(size), conns, plural)
			fmt.Fprintln(b, "| transport | calls/s | x raw | x drpc | spread | p50 µs | p99 µs | allocs/call | B/call | client CPU µs/call | server CPU µs/call |")
			fmt.Fprintln(b, "| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |")
			for _, c := range rows {
				writeRow(b, c)
			}
		}
	}
	var errs []string
	for _, c := range r.Cells {
		for _, s := range c.Rounds {
			if s.Error != "" {
				errs = append(errs, fmt.Sprintf("- %s, %s x%d, round %d: %s", c.Transport, sizeLabel(c.Size), c.Conns, s.Round, s.Error))
			}
		}
	}
	if len(errs) > 0 {
		fmt.Fprintf(b, "\n## Errors\n\n%s\n", strings.Join(errs, "\n"))
	}
	return b.Flush()
}

func writeRow(w io.Writer, c *cell) {
	m := c.Median
	if m == nil {
		fmt.Fprintf(w, "| %s | ERROR | | | | | | | | | |\n", c.Transport)
		return
	}
	ratio := func(v *float64) string {
		if v == nil {
			return "–"
		}
		return fmt.Sprintf("%.2fx", *v)
	}
	name := c.Transport
	if failed := len(c.Rounds) - c.GoodRounds; failed > 0 {
		name += fmt.Sprintf(" (%d round(s) failed)", failed)
	}
	fmt.Fprintf(w, "| %s | %s | %s | %s | %.0f%% | %s | %s | %s | %s | %.2f | %.2f |\n",
		name, thousands(m.CallsPerSec), ratio(c.VsRaw), ratio(c.VsDRPC), c.SpreadPct,
		micros(m.P50Ns), micros(m.P99Ns), compact(m.AllocsPerCall), thousands(m.BytesPerCall),
		m.ClientCPUNsPerCall/1e3, m.ServerCPUNsPerCall/1e3)
}

// micros formats nanoseconds as microseconds with three significant digits
// or more.
func micros(ns float64) string {
	us := ns / 1e3
	switch {
	case us < 10:
		return fmt.Sprintf("%.2f", us)
	case us < 100:
		return fmt.Sprintf("%.1f", us)
	}
	return thousands(us)
}

// compact formats a small per-call count.
func compact(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.2f", v)
	}
	return thousands(v)
}

// thousands formats v rounded to an integer with comma separators.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func writeJSON(path string, r *report) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the JSON report: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write the JSON report: %w", err)
	}
	return nil
}

func readMachine() machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH, CPUModel: "unknown", Kernel: "unknown"}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}
