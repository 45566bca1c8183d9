package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Volume control: a test tells the emulator that a stream of a connection
// moves a fraction (or a multiple) of its usual volume, so that the
// per-stream stats of the next jobs (streamStats, streamAggregatedStats,
// the totals) show a drop, a spike or zero.

// VolumeChange scales one stream's records and bytes in the jobs created
// after it is set (POST /_emulator/connections/{connectionId}/volume).
type VolumeChange struct {
	// Stream is the stream's name.
	Stream string `json:"stream"`
	// Kind is drop (a tenth of the usual volume), spike (ten times) or zero;
	// Factor, when set, overrides its factor. "steady" removes the stream's
	// change.
	Kind   string   `json:"kind,omitempty"`
	Factor *float64 `json:"factor,omitempty"`
	// Jobs is how many jobs the change lasts (0: until removed).
	Jobs int `json:"jobs,omitempty"`
}

// streamScale holds the factors of a job's streams whose volume changed.
type streamScale map[string]float64

// volumeRule is a VolumeChange in force.
type volumeRule struct {
	factor float64
	jobs   int // jobs left; 0 until removed
}

// factor returns the change's factor, or an error for an unknown kind.
func (v VolumeChange) factor() (float64, error) {
	if v.Factor != nil {
		if *v.Factor < 0 {
			return 0, fmt.Errorf("%w: factor must not be negative", ErrInvalidOp)
		}
		return *v.Factor, nil
	}
	switch v.Kind {
	case "drop":
		return 0.1, nil
	case "spike":
		return 10, nil
	case "zero":
		return 0, nil
	case "steady":
		return 1, nil
	}
	return 0, fmt.Errorf("%w: kind must be drop, spike, zero or steady (or give a factor)", ErrInvalidOp)
}

// SetStreamVolume scales a stream's volume in the connection's next jobs
// (every job until removed when v.Jobs is 0); a factor of 1 removes the
// change.
func (e *Emulator) SetStreamVolume(connectionID string, v VolumeChange) error {
	f, err := v.factor()
	if err != nil {
		return err
	}
	if v.Stream == "" || v.Jobs < 0 {
		return fmt.Errorf("%w: stream is required and jobs must not be negative", ErrInvalidOp)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.lookupConnection(connectionID); err != nil {
		return err
	}
	if e.st.volumes == nil {
		e.st.volumes = map[string]map[string]*volumeRule{}
	}
	rules := e.st.volumes[connectionID]
	if f == 1 {
		delete(rules, v.Stream)
		return nil
	}
	if rules == nil {
		rules = map[string]*volumeRule{}
		e.st.volumes[connectionID] = rules
	}
	rules[v.Stream] = &volumeRule{factor: f, jobs: v.Jobs}
	return nil
}

// takeVolume returns the stream factors of a new job of the connection,
// nil when its streams move their usual volume, and counts the job against
// changes that last a number of jobs. Callers hold e.mu.
func (e *Emulator) takeVolume(connectionID string) streamScale {
	rules := e.st.volumes[connectionID]
	if len(rules) == 0 {
		return nil
	}
	out := make(streamScale, len(rules))
	for s, r := range rules {
		out[s] = r.factor
		if r.jobs > 0 {
			if r.jobs--; r.jobs == 0 {
				delete(rules, s)
			}
		}
	}
	return out
}

// volume returns the records and bytes a succeeded attempt of the job moved
// for a stream: its usual volume (streamVolume) times the job's factor.
func (j *jobRec) volume(stream string) (int64, int64) {
	records, bytes := streamVolume(j.ID, stream)
	f, ok := j.scale[stream]
	if !ok {
		return records, bytes
	}
	return int64(float64(records) * f), int64(float64(bytes) * f)
}

// volumeRoutes serves the volume control.
func (e *Emulator) volumeRoutes(mux *http.ServeMux, fail func(http.ResponseWriter, int, error)) {
	mux.HandleFunc("POST "+adminPrefix+"/connections/{connectionId}/volume", func(w http.ResponseWriter, r *http.Request) {
		var v VolumeChange
		b, _ := readBody(r)
		if err := json.Unmarshal(b, &v); err != nil {
			fail(w, http.StatusBadRequest, fmt.Errorf("%w: %w", ErrInvalidOp, err))
			return
		}
		if err := e.SetStreamVolume(r.PathValue("connectionId"), v); err != nil {
			status := http.StatusBadRequest
			if ae := (*apiError)(nil); errors.As(err, &ae) && ae.kind == probNotFound {
				status = http.StatusNotFound
			}
			fail(w, status, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
