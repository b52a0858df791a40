package tasks

// The reference implementations (DePT src/tasks.py, ATTEMPT attempt/data/tasks.py,
// AbstractTask.shuffled_indices) cut their splits from
//
//	g = torch.Generator(); g.manual_seed(42); torch.randperm(n, generator=g)
//
// on the CPU. To put the same examples in dev and test as the published numbers, this file
// reproduces that permutation exactly, without libtorch: TorchRandperm(n, 42) equals the
// list PyTorch 1.13 returns (checked against permutations generated with PyTorch, see
// testdata/torch_randperm.py).
//
// What PyTorch does (aten/src/ATen/native/TensorFactories.cpp, randperm_cpu; CPUGeneratorImpl;
// ATen/core/MT19937RNGEngine.h):
//   - manual_seed(s) re-creates the generator's engine as a standard 32-bit Mersenne Twister
//     (MT19937) initialised with the low 32 bits of s — the same stream as C++'s
//     std::mt19937(s);
//   - randperm fills 0..n-1, then for i = 0 .. n-2 draws one 32-bit word r from the engine
//     and swaps positions i and i + r mod (n-i): a Fisher–Yates walk from the front with the
//     modulo bias of a plain remainder.
//
// Later PyTorch releases switch to 64-bit draws only for n ≥ 2^32/20 (about 214 million),
// far above any dataset here, so the permutation is the same across those releases for
// the sizes the protocol uses.

// mt19937 is the 32-bit Mersenne Twister (Matsumoto & Nishimura 1998) with the standard
// initialisation by a single 32-bit seed.
type mt19937 struct {
	state [mtN]uint32
	next  int // index of the next word to temper; mtN = regenerate first
}

const (
	mtN         = 624
	mtM         = 397
	mtMatrixA   = 0x9908b0df
	mtUpperMask = 0x80000000
	mtLowerMask = 0x7fffffff
)

// newMT19937 seeds the engine as std::mt19937(seed) and PyTorch's manual_seed do:
// state[0] = seed, state[i] = 1812433253·(state[i-1] xor state[i-1]>>30) + i.
func newMT19937(seed uint32) *mt19937 {
	m := &mt19937{next: mtN}
	m.state[0] = seed
	for i := 1; i < mtN; i++ {
		prev := m.state[i-1]
		m.state[i] = 1812433253*(prev^(prev>>30)) + uint32(i)
	}
	return m
}

// twist regenerates all 624 words of state.
func (m *mt19937) twist() {
	for i := 0; i < mtN; i++ {
		y := (m.state[i] & mtUpperMask) | (m.state[(i+1)%mtN] & mtLowerMask)
		v := m.state[(i+mtM)%mtN] ^ (y >> 1)
		if y&1 != 0 {
			v ^= mtMatrixA
		}
		m.state[i] = v
	}
	m.next = 0
}

// Uint32 returns the next tempered output word.
func (m *mt19937) Uint32() uint32 {
	if m.next >= mtN {
		m.twist()
	}
	y := m.state[m.next]
	m.next++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// TorchRandperm returns torch.randperm(n, generator=torch.Generator().manual_seed(seed))
// as PyTorch computes it on the CPU (see the file comment). A seed is reduced to its low 32
// bits, as PyTorch's engine does.
func TorchRandperm(n int, seed int64) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	rng := newMT19937(uint32(seed))
	for i := 0; i < n-1; i++ {
		z := int(uint64(rng.Uint32()) % uint64(n-i))
		p[i], p[i+z] = p[i+z], p[i]
	}
	return p
}
