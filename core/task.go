package core

import "github.com/ptbench/ptbench/core/data"

// The task-side data types live in core/data (no libtorch); these aliases keep core's
// vocabulary in one place for methods, backbones and the trainer.
type (
	Example     = data.Example
	Dataset     = data.Dataset
	DataOptions = data.DataOptions
	Scores      = data.Scores
	Task        = data.Task
	TaskFactory = data.TaskFactory
	// KShotSampler draws a k-shot training set from a loaded full one (per run seed).
	KShotSampler = data.KShotSampler
)

// RegisterTask makes a task available by name.
func RegisterTask(name, about string, f TaskFactory) { data.RegisterTask(name, about, f) }

// Tasks lists registered tasks.
func Tasks() []Registered { return data.Tasks() }

// NewTask builds a registered task.
func NewTask(name string) (Task, error) { return data.NewTask(name) }

// PrimaryScore is a task's table score (see data.PrimaryScore).
func PrimaryScore(t Task, s Scores) (float64, error) { return data.PrimaryScore(t, s) }

// SelectionScore is the dev score checkpoints are chosen by (see data.SelectionScore).
func SelectionScore(t Task, s Scores) (float64, error) { return data.SelectionScore(t, s) }
