package emulator

import (
	"context"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Faults are injected into API requests (never into /_emulator). Rates are
// probabilities in [0,1]; one draw from a seeded generator decides each request, so
// a deterministic emulator injects the same faults for the same request sequence.
type Faults struct {
	// Path, when set, limits injection to requests whose path starts with it
	// (e.g. "/api/public/v1/jobs").
	Path string `json:"path,omitempty"`
	// Latency is added to every matching request, before any other handling.
	Latency time.Duration `json:"-"`
	// ErrorRate answers ErrorStatus (500, 502, 503 or 504; default 500).
	ErrorRate   float64 `json:"error_rate,omitempty"`
	ErrorStatus int     `json:"status,omitempty"`
	// RateLimitRate answers 429 {"message":"You are being rate limited."}. Airbyte's
	// own 429 carries no Retry-After; RetryAfter > 0 adds one (whole seconds).
	RateLimitRate float64       `json:"rate_limit_rate,omitempty"`
	RetryAfter    time.Duration `json:"-"`
	// TimeoutRate holds the request until the client gives up (or the emulator
	// closes) and never answers.
	TimeoutRate float64 `json:"timeout_rate,omitempty"`
	// FailNextJobs makes the next N jobs created fail. Each fails FailAttempts
	// attempts (default: all, so the job ends failed; fewer means incomplete and
	// then succeeded).
	FailNextJobs int `json:"fail_next_jobs,omitempty"`
	FailAttempts int `json:"fail_attempts,omitempty"`
	// FailType and FailOrigin are the failureType and failureOrigin those
	// attempts report (Airbyte's FailureReason enums), e.g. config_error
	// from the source for revoked credentials. Both empty: a Salesforce
	// request-limit failure (system_error from the source); one empty takes
	// system_error or source.
	FailType   string `json:"fail_type,omitempty"`
	FailOrigin string `json:"fail_origin,omitempty"`
	// FailNextDiscovers makes the next N uncached discovers fail.
	FailNextDiscovers int `json:"fail_next_discovers,omitempty"`
}

type faultState struct {
	mu  sync.Mutex
	rng *mrand.Rand
	f   Faults
	// counters, for GET /_emulator/state
	injected map[string]int
}

func newFaultState(seed uint64) *faultState {
	return &faultState{rng: mrand.New(mrand.NewPCG(seed, seed^0xda942042e4dd58b5)), injected: map[string]int{}}
}

func (s *faultState) set(f Faults) {
	s.mu.Lock()
	s.f = f
	s.mu.Unlock()
}

func (s *faultState) get() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f
}

// takeJobFailure consumes one FailNextJobs and returns how many attempts of the new
// job fail (0: none) and the failure they report.
func (s *faultState) takeJobFailure(maxAttempts int) (int, failureKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f.FailNextJobs <= 0 {
		return 0, noFailure
	}
	s.f.FailNextJobs--
	n := s.f.FailAttempts
	if n <= 0 || n > maxAttempts {
		n = maxAttempts
	}
	return n, failureOf(s.f.FailType, s.f.FailOrigin)
}

func (s *faultState) takeDiscoverFailure() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f.FailNextDiscovers <= 0 {
		return false
	}
	s.f.FailNextDiscovers--
	return true
}

type faultAction int

const (
	faultNone faultAction = iota
	faultTimeout
	faultError
	faultRateLimit
)

// decide draws once and returns what to do with a request on path.
func (s *faultState) decide(path string) (time.Duration, faultAction, Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.f
	if f.Path != "" && !strings.HasPrefix(path, f.Path) {
		return 0, faultNone, f
	}
	act := faultNone
	if f.TimeoutRate+f.ErrorRate+f.RateLimitRate > 0 {
		u := s.rng.Float64()
		switch {
		case u < f.TimeoutRate:
			act = faultTimeout
		case u < f.TimeoutRate+f.ErrorRate:
			act = faultError
		case u < f.TimeoutRate+f.ErrorRate+f.RateLimitRate:
			act = faultRateLimit
		}
	}
	switch act {
	case faultTimeout:
		s.injected["timeout"]++
	case faultError:
		s.injected["error"]++
	case faultRateLimit:
		s.injected["rate_limit"]++
	}
	return f.Latency, act, f
}

func (s *faultState) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.injected))
	for k, v := range s.injected {
		out[k] = v
	}
	return out
}

// injectFaults applies the configured faults to API requests.
func (e *Emulator) injectFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		latency, act, f := e.faults.decide(r.URL.Path)
		if latency > 0 && !e.sleep(r.Context(), latency) {
			return
		}
		switch act {
		case faultTimeout:
			e.log.Debug("fault: holding request", zap.String("path", r.URL.Path))
			select {
			case <-r.Context().Done():
			case <-e.closing:
			}
			return
		case faultRateLimit:
			if f.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.FormatInt(int64((f.RetryAfter+time.Second-1)/time.Second), 10))
			}
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"message": "You are being rate limited."})
			return
		case faultError:
			writeInjectedError(w, f.ErrorStatus)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeInjectedError answers like the component that produces each status: the
// server itself for 500 (unexpected-problem), the ingress (nginx) for 502/503/504.
func writeInjectedError(w http.ResponseWriter, status int) {
	switch status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		text := strconv.Itoa(status) + " " + http.StatusText(status)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = w.Write([]byte("<html>\r\n<head><title>" + text + "</title></head>\r\n<body>\r\n<center><h1>" +
			text + "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"))
	default:
		writePublicProblem(w, problem(probUnexpected, "Injected failure"))
	}
}

// sleep waits d or until ctx ends or the emulator closes; it reports whether the
// full duration elapsed.
func (e *Emulator) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-e.closing:
		return false
	}
}
