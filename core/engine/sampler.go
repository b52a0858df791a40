package engine

import (
	"math"
	"math/rand/v2"
)

// TaskSampler draws the task of each training row in a multi-task run with temperature
// mixing: p_i ∝ n_i^{1/T} for task sizes n_i. T = 1 samples proportionally to size, T → ∞
// uniformly; HyperFormer and MPT mix with T = 2 style temperatures.
type TaskSampler struct {
	probs, cum []float64
	rng        *rand.Rand
}

// NewTaskSampler builds a seeded sampler; temperature ≤ 0 means 1.
func NewTaskSampler(sizes []int, temperature float64, seed int64) *TaskSampler {
	if temperature <= 0 {
		temperature = 1
	}
	s := &TaskSampler{probs: TaskProbabilities(sizes, temperature), rng: rand.New(rand.NewPCG(uint64(seed), 0x7461736b))} // "task"
	acc := 0.0
	for _, p := range s.probs {
		acc += p
		s.cum = append(s.cum, acc)
	}
	return s
}

// TaskProbabilities is the temperature formula p_i = n_i^{1/T} / Σ_j n_j^{1/T}.
func TaskProbabilities(sizes []int, temperature float64) []float64 {
	w := make([]float64, len(sizes))
	var sum float64
	for i, n := range sizes {
		w[i] = math.Pow(float64(n), 1/temperature)
		sum += w[i]
	}
	for i := range w {
		w[i] /= sum
	}
	return w
}

// Probabilities returns each task's sampling probability.
func (s *TaskSampler) Probabilities() []float64 { return append([]float64(nil), s.probs...) }

// Next draws a task index.
func (s *TaskSampler) Next() int {
	u := s.rng.Float64()
	for i, c := range s.cum {
		if u < c {
			return i
		}
	}
	return len(s.cum) - 1
}
