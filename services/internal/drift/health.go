package drift

import (
	"cmp"
	"errors"
	"fmt"
)

// Health is the health part of a connection's policy: when its failing
// syncs warn and quarantine it. Zero fields take their defaults
// (WithDefaults).
type Health struct {
	// WarnAfter is the consecutive failed syncs that emit
	// connection.health_warning (default 3).
	WarnAfter int `json:"warn_after,omitempty"`
	// QuarantineAfter is the consecutive failed syncs that quarantine the
	// connection (default 5).
	QuarantineAfter int `json:"quarantine_after,omitempty"`
	// QuarantineOnCredentials quarantines at the first failure classed
	// credentials (default true: retrying revoked credentials does not
	// help).
	QuarantineOnCredentials *bool `json:"quarantine_on_credentials,omitempty"`
	// Anomalies sets when a successful job's volume or duration raises
	// sync.anomaly.detected (nil: the defaults).
	Anomalies *Anomalies `json:"anomalies,omitempty"`
}

// Defaults of Health.
const (
	DefaultWarnAfter       = 3
	DefaultQuarantineAfter = 5
)

// WithDefaults returns h (nil: the default policy) with every unset field
// at its default.
func (h *Health) WithDefaults() Health {
	var out Health
	if h != nil {
		out = *h
	}
	out.WarnAfter = cmp.Or(out.WarnAfter, DefaultWarnAfter)
	out.QuarantineAfter = cmp.Or(out.QuarantineAfter, DefaultQuarantineAfter)
	if out.QuarantineOnCredentials == nil {
		yes := true
		out.QuarantineOnCredentials = &yes
	}
	a := out.Anomalies.WithDefaults()
	out.Anomalies = &a
	return out
}

// validate reports thresholds that cannot work.
func (h *Health) validate() error {
	if h == nil {
		return nil
	}
	var errs []error
	if h.WarnAfter < 0 || h.QuarantineAfter < 0 {
		errs = append(errs, errors.New("health: warn_after and quarantine_after must not be negative"))
	}
	if d := h.WithDefaults(); d.WarnAfter > d.QuarantineAfter {
		errs = append(errs, fmt.Errorf("health: warn_after (%d) is above quarantine_after (%d)", d.WarnAfter, d.QuarantineAfter))
	}
	if err := h.Anomalies.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
