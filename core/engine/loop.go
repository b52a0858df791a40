package engine

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ptbench/ptbench/core"
)

// ErrStopTraining, returned by a callback, ends the loop early without an error (divergence,
// early stopping).
var ErrStopTraining = errors.New("stop training")

// StepInfo is what callbacks learn after each step.
type StepInfo struct {
	Step, Total int
	Loss        float64
	Seconds     float64 // this step's wall time
	Elapsed     time.Duration
}

// Callback runs around the training step (as gomlx's train loop does): evaluation, best
// checkpoints, progress, divergence checks and RSS tracking are callbacks, so the step stays
// small. OnStep returning ErrStopTraining ends the loop normally; any other error ends the run.
type Callback struct {
	Name   string
	OnStep func(s StepInfo) error
	OnEnd  func() error
}

// Loop calls Step for steps 1..Steps and the callbacks, in order, after each.
type Loop struct {
	Steps     int
	Step      func(step int) (loss float64, err error)
	Callbacks []Callback
}

// Run runs the loop; it returns the first error of a step or a callback (with the step).
func (l *Loop) Run() error {
	start := time.Now()
	var err error
	for step := 1; step <= l.Steps; step++ {
		t0 := time.Now()
		loss, serr := l.Step(step)
		if serr != nil {
			err = stepError(step, serr)
			break
		}
		info := StepInfo{Step: step, Total: l.Steps, Loss: loss, Seconds: time.Since(t0).Seconds(), Elapsed: time.Since(start)}
		stop, cerr := runOnStep(l.Callbacks, info)
		if stop {
			err = cerr
			break
		}
	}
	return runOnEnd(l.Callbacks, err)
}

// runOnStep calls the callbacks in order after a step. stop reports that the run ends here:
// a callback returned ErrStopTraining (err nil) or another error (err carries the step).
func runOnStep(cbs []Callback, info StepInfo) (stop bool, err error) {
	for _, c := range cbs {
		if c.OnStep == nil {
			continue
		}
		if cerr := c.OnStep(info); cerr != nil {
			if !errors.Is(cerr, ErrStopTraining) {
				return true, stepError(info.Step, cerr)
			}
			return true, nil
		}
	}
	return false, nil
}

// runOnEnd calls every callback's OnEnd and returns err, or else the first OnEnd error.
func runOnEnd(cbs []Callback, err error) error {
	for _, c := range cbs {
		if c.OnEnd != nil {
			if eerr := c.OnEnd(); eerr != nil && err == nil {
				err = eerr
			}
		}
	}
	return err
}

type stepErr struct {
	step int
	err  error
}

func (e stepErr) Error() string { return fmt.Sprintf("step %d: %v", e.step, e.err) }
func (e stepErr) Unwrap() error { return e.err }

func stepError(step int, err error) error { return stepErr{step, err} }

// ProgressCallback reports every step to p (nil: a no-op callback).
func ProgressCallback(p core.Progress) Callback {
	return Callback{Name: "progress", OnStep: func(s StepInfo) error {
		if p != nil {
			p.Step(s.Step, s.Total, s.Loss, float64(s.Step)/s.Elapsed.Seconds())
		}
		return nil
	}}
}

// RSSCallback samples the resident set after the given steps into at (step → bytes).
func RSSCallback(steps []int, at map[int]int64) Callback {
	want := map[int]bool{}
	for _, s := range steps {
		want[s] = true
	}
	return Callback{Name: "rss", OnStep: func(s StepInfo) error {
		if want[s.Step] {
			at[s.Step] = CurrentRSS()
		}
		return nil
	}}
}

// checkFinite returns an error if v is NaN or ±Inf (core's optimiser has its own copy).
func checkFinite(what string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%s is %v", what, v)
	}
	return nil
}
