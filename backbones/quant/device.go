package quant

import (
	"fmt"
	"sync"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// A quantised weight lives where its backbone computes. Weights are quantised where their
// full-precision source is (a loader quantises on the CPU, then moves the packed weights with
// ToDevice); the lookup tables dequantisation gathers from are built once on the CPU and
// copied once to each other device a weight asks for (tableOn).

// ToDevice moves the packed codes, double-quantised absmaxes and scales to d. On the device
// they are already on it changes nothing (no copy).
func (q *NF4) ToDevice(d gotch.Device) error {
	for _, t := range []**ts.Tensor{&q.Codes, &q.QAbs, &q.Scale} {
		moved, err := toDevice(*t, d)
		if err != nil {
			return fmt.Errorf("nf4: %w", err)
		}
		*t = moved
	}
	return nil
}

// deviceOf is where t lives.
func deviceOf(t *ts.Tensor) (gotch.Device, error) {
	d, err := t.Device()
	if err != nil {
		return gotch.CPU, err
	}
	if d.CInt() == gotch.CPU.CInt() {
		return gotch.CPU, nil // gotch reports the CPU as {CPU, 1}
	}
	return d, nil
}

// toDevice moves t (consumed) to d, or returns it itself when it is there already.
func toDevice(t *ts.Tensor, d gotch.Device) (*ts.Tensor, error) {
	at, err := deviceOf(t)
	if err != nil {
		return nil, err
	}
	if at.CInt() == d.CInt() {
		return t, nil
	}
	return t.To(d, true)
}

// tableCopies are the lookup tables' copies on devices other than the CPU, by device.
var (
	tableCopiesMu sync.Mutex
	tableCopies   = map[[2]gotch.CInt]*ts.Tensor{} // (table id, device) → copy
)

// tableOn returns table (a CPU tensor, never dropped) on the device of like: table itself
// on the CPU, else a copy made once per device and kept.
func tableOn(id gotch.CInt, table, like *ts.Tensor) (*ts.Tensor, error) {
	d, err := deviceOf(like)
	if err != nil {
		return nil, err
	}
	if d.CInt() == gotch.CPU.CInt() {
		return table, nil
	}
	tableCopiesMu.Lock()
	defer tableCopiesMu.Unlock()
	key := [2]gotch.CInt{id, d.CInt()}
	if c := tableCopies[key]; c != nil {
		return c, nil
	}
	c, err := table.To(d, false)
	if err != nil {
		return nil, err
	}
	tableCopies[key] = c
	return c, nil
}

// Table ids for tableOn.
const (
	pairTableID gotch.CInt = iota
	dynamicTableID
)

// toDeviceOf moves t (consumed) to the device like is on.
func toDeviceOf(t, like *ts.Tensor) (*ts.Tensor, error) {
	d, err := deviceOf(like)
	if err != nil {
		t.MustDrop()
		return nil, err
	}
	return toDevice(t, d)
}
