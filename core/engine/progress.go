package engine

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ptbench/ptbench/core"
)

// NewProgress reports to w: a redrawn bar on a terminal, plain lines (every logEvery steps)
// otherwise, so logs stay readable in CI.
func NewProgress(w io.Writer, terminal bool, prefix string, logEvery int) core.Progress {
	if logEvery <= 0 {
		logEvery = 50
	}
	return &progress{w: w, terminal: terminal, prefix: prefix, logEvery: logEvery}
}

type progress struct {
	w        io.Writer
	terminal bool
	prefix   string
	logEvery int
	drawn    bool
}

func (p *progress) Step(step, total int, loss, stepsPerSec float64) {
	eta := time.Duration(0)
	if stepsPerSec > 0 {
		eta = time.Duration(float64(total-step) / stepsPerSec * float64(time.Second)).Round(time.Second)
	}
	if p.terminal {
		const width = 24
		filled := width * step / max(total, 1)
		fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d loss %.4f %.2f steps/s ETA %s ", p.prefix,
			strings.Repeat("=", filled), strings.Repeat(" ", width-filled), step, total, loss, stepsPerSec, eta)
		p.drawn = true
		if step == total {
			fmt.Fprintln(p.w)
			p.drawn = false
		}
		return
	}
	if step%p.logEvery == 0 || step == total || step == 1 {
		fmt.Fprintf(p.w, "%s step %d/%d loss %.4f %.2f steps/s ETA %s\n", p.prefix, step, total, loss, stepsPerSec, eta)
	}
}

func (p *progress) Log(format string, args ...any) {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
	fmt.Fprintf(p.w, "%s %s\n", p.prefix, fmt.Sprintf(format, args...))
}
