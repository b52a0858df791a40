package host

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// MaxCallTimeout bounds a configured call timeout: a day is more than any single plugin call
// (a Forward, a Setup) needs, while a typo such as 1e9 seconds (31 years) would turn a hung
// plugin into a grid that never ends.
const MaxCallTimeout = 24 * time.Hour

// parseDuration reads "90s", "2m" or a number of seconds, in (0, MaxCallTimeout].
func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var d time.Duration
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if !(f > 0) || f > MaxCallTimeout.Seconds() { // NaN, Inf, negative, zero, too long
			return 0, fmt.Errorf("%q: want more than 0 and at most %v", s, MaxCallTimeout)
		}
		d = time.Duration(f * float64(time.Second))
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, err
	}
	if d <= 0 || d > MaxCallTimeout {
		return 0, fmt.Errorf("%q: want more than 0 and at most %v", s, MaxCallTimeout)
	}
	return d, nil
}

// CheckTimeoutEnv reports a $PTBENCH_PLUGIN_TIMEOUT that is set but not a valid timeout
// (before, -5 or "soon" was silently replaced by the default).
func CheckTimeoutEnv() error {
	v, ok := os.LookupEnv("PTBENCH_PLUGIN_TIMEOUT")
	if !ok || v == "" {
		return nil
	}
	if _, err := parseDuration(strings.TrimSpace(v)); err != nil {
		return fmt.Errorf("$PTBENCH_PLUGIN_TIMEOUT=%s: want seconds or a duration like 90s, more than 0 and at most %v", v, MaxCallTimeout)
	}
	return nil
}

// CheckHostSettings checks the settings the host takes out of a plugin method's settings
// (plugin_timeout, plugin_wire_dtype) without starting the plugin, so that `ptbench run`
// refuses a bad one before anything loads.
func CheckHostSettings(raw map[string]any) error {
	var o Options
	if _, err := o.takeHostKeys(raw); err != nil {
		return err
	}
	_, err := o.wireDType()
	return err
}
