package host

import (
	"strings"
	"testing"
	"time"
)

// A plugin deadline is more than 0 and at most a day, from the method setting and from the
// environment alike: before, plugin_timeout 1e9 (31 years) was accepted and
// PTBENCH_PLUGIN_TIMEOUT=-5 was silently replaced by the default.
func TestPluginTimeoutIsBounded(t *testing.T) {
	cases := []struct {
		v    any
		want time.Duration // 0: refused
	}{
		{90, 90 * time.Second}, {"2m", 2 * time.Minute}, {0.5, 500 * time.Millisecond}, {86400, 24 * time.Hour},
		{1e9, 0}, {-5, 0}, {0, 0}, {"-5s", 0}, {"48h", 0}, {"NaN", 0}, {"Inf", 0}, {"soon", 0},
	}
	for _, c := range cases {
		var o Options
		_, err := o.takeHostKeys(map[string]any{keyTimeout: c.v})
		switch {
		case c.want == 0 && err == nil:
			t.Errorf("plugin_timeout %v accepted as %v", c.v, o.CallTimeout)
		case c.want != 0 && (err != nil || o.CallTimeout != c.want):
			t.Errorf("plugin_timeout %v: %v, %v; want %v", c.v, o.CallTimeout, err, c.want)
		}
	}
	for _, bad := range []string{"-5", "0", "1e9", "soon", "NaN"} {
		t.Setenv("PTBENCH_PLUGIN_TIMEOUT", bad)
		if err := CheckTimeoutEnv(); err == nil || !strings.Contains(err.Error(), "PTBENCH_PLUGIN_TIMEOUT") {
			t.Errorf("PTBENCH_PLUGIN_TIMEOUT=%s: %v", bad, err)
		}
		if err := RegisterPlugins([]string{"plugin:" + testPlugin + "-timeout-check"}); err == nil || !strings.Contains(err.Error(), "PTBENCH_PLUGIN_TIMEOUT") {
			t.Errorf("RegisterPlugins with PTBENCH_PLUGIN_TIMEOUT=%s: %v", bad, err)
		}
	}
	t.Setenv("PTBENCH_PLUGIN_TIMEOUT", "30")
	if err := CheckTimeoutEnv(); err != nil || (Options{}).timeout() != 30*time.Second {
		t.Errorf("PTBENCH_PLUGIN_TIMEOUT=30: %v, timeout %v", err, (Options{}).timeout())
	}
}
