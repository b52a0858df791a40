package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// DecodeConfig fills into (a pointer to a config struct holding its defaults) from a JSON
// object, rejecting keys the struct does not have. Keys use the struct's json tags. Empty
// input keeps the defaults.
func DecodeConfig(config []byte, into any) error {
	if len(bytes.TrimSpace(config)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(config))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}
