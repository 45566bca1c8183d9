package airbyte

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	discover := func(retryable *bool) error {
		return &DiscoverError{SourceID: testSource, JobInfo: SynchronousJobRead{
			FailureReason: &FailureReason{ExternalMessage: "connector failed", Retryable: retryable}}}
	}
	api := func(status int, msg string, retryAfter time.Duration) error {
		return &APIError{StatusCode: status, Message: msg, RetryAfter: retryAfter,
			Operation: "createJob", Method: "POST", Path: "/api/public/v1/jobs"}
	}
	tests := []struct {
		name string
		err  error
		want Verdict
	}{
		{"400", api(400, "invalid connection configuration", 0), Verdict{Action: Permanent, Reason: ReasonInvalid}},
		{"422", api(422, "Invalid input", 0), Verdict{Action: Permanent, Reason: ReasonInvalid}},
		{"401", api(401, "", 0), Verdict{Action: Retry, Reason: ReasonUnauthorized}},
		{"403", api(403, "forbidden", 0), Verdict{Action: Retry, Reason: ReasonUnauthorized}},
		{"401 with Retry-After", api(401, "", 7*time.Second), Verdict{Action: RetryLater, Delay: 7 * time.Second, Reason: ReasonUnauthorized}},
		{"client credentials refused", &APIError{StatusCode: 400, Operation: opCreateAccessToken}, Verdict{Action: Retry, Reason: ReasonUnauthorized}},
		{"404", api(404, "The requested resource could not be found.", 0), Verdict{Action: Permanent, Reason: ReasonNotFound}},
		{"look-up found nothing", fmt.Errorf("find source %q: %w", "x", ErrNotFound), Verdict{Action: Permanent, Reason: ReasonNotFound}},
		{"409 sync already running", api(409, "A sync is already running for: "+testConnection, 0),
			Verdict{Action: RetryLater, Delay: SyncRunningDelay, Reason: ReasonSyncRunning}},
		{"409 sync already running with a longer Retry-After", api(409, "A sync is already running for: "+testConnection, 5*time.Second),
			Verdict{Action: RetryLater, Delay: 5 * time.Second, Reason: ReasonSyncRunning}},
		{"409 sync already running joined with the look-up's error", errors.Join(api(409, "A sync is already running for: "+testConnection, 0), ErrNoRunningJob),
			Verdict{Action: RetryLater, Delay: SyncRunningDelay, Reason: ReasonSyncRunning}},
		{"409 other", api(409, "Could not fulfill request", 0), Verdict{Action: Permanent, Reason: ReasonConflict}},
		{"409 job not running", api(409, "Job is not currently running", 0), Verdict{Action: Permanent, Reason: ReasonConflict}},
		{"429 without Retry-After", api(429, "", 0), Verdict{Action: Retry, Reason: ReasonRateLimited}},
		{"429 with Retry-After", api(429, "", 3*time.Second), Verdict{Action: RetryLater, Delay: 3 * time.Second, Reason: ReasonRateLimited}},
		{"500", api(500, "Internal Server Error", 0), Verdict{Action: Retry, Reason: ReasonUnavailable}},
		{"502", api(502, "", 0), Verdict{Action: Retry, Reason: ReasonUnavailable}},
		{"503 with Retry-After", api(503, "", 2*time.Second), Verdict{Action: RetryLater, Delay: 2 * time.Second, Reason: ReasonUnavailable}},
		{"504", api(504, "", 0), Verdict{Action: Retry, Reason: ReasonUnavailable}},
		{"408", api(408, "", 0), Verdict{Action: Retry, Reason: ReasonUnavailable}},
		{"501", api(501, "", 0), Verdict{Action: Permanent, Reason: ReasonRefused}},
		{"405", api(405, "", 0), Verdict{Action: Permanent, Reason: ReasonRefused}},
		{"timeout", fmt.Errorf("airbyte: POST /jobs: %w", context.DeadlineExceeded), Verdict{Action: Retry, Reason: ReasonTimeout}},
		{"attempt timeout", &net.OpError{Op: "read", Net: "tcp", Err: timeoutError{}}, Verdict{Action: Retry, Reason: ReasonTimeout}},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, Verdict{Action: Retry, Reason: ReasonNetwork}},
		{"breaker open", fmt.Errorf("%w: %w", ErrCircuitOpen, errors.New("open")), Verdict{Action: Retry, Reason: ReasonCircuitOpen}},
		{"not admitted", fmt.Errorf("airbyte: GET /jobs/1: %w", &BusyError{API: APIPublic, Priority: PriorityJobs, Limit: 4, Ahead: 9, RetryAfter: 3 * time.Second}),
			Verdict{Action: RetryLater, Delay: 3 * time.Second, Reason: ReasonBusy}},
		{"breaker open after 5xx", fmt.Errorf("%w: %w", ErrCircuitOpen, api(503, "", 0)), Verdict{Action: Retry, Reason: ReasonCircuitOpen}},
		{"discover failed, retryable", fmt.Errorf("discover: %w", discover(&yes)), Verdict{Action: Retry, Reason: ReasonDiscoverFailed}},
		{"discover failed, not retryable", discover(&no), Verdict{Action: Permanent, Reason: ReasonDiscoverFailed}},
		{"discover failed, retryable not said", discover(nil), Verdict{Action: Permanent, Reason: ReasonDiscoverFailed}},
		{"discover failed without a reason", &DiscoverError{SourceID: testSource}, Verdict{Action: Permanent, Reason: ReasonDiscoverFailed}},
		{"undecodable answer", fmt.Errorf("%w: bad json", ErrInvalidResponse), Verdict{Action: Retry, Reason: ReasonInvalidResponse}},
		{"cancelled", fmt.Errorf("get job: %w", context.Canceled), Verdict{Action: Retry, Reason: ReasonCanceled}},
		{"not an Airbyte error", errors.New("boom"), Verdict{Action: Retry, Reason: ReasonOther}},
		{"nil", nil, Verdict{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Classify(tt.err), "%v", tt.err)
			if tt.err == nil {
				return
			}
			// Wrapping keeps the verdict.
			require.Equal(t, tt.want, Classify(fmt.Errorf("step: %w", tt.err)))
		})
	}
}

// TestClassifyAgreesWithIsRetryable checks that every status the client
// itself retries is retried by callers too, and that every status the
// client gives up on at once is permanent unless it is an authorization
// failure or a sync already running.
func TestClassifyAgreesWithIsRetryable(t *testing.T) {
	t.Parallel()
	for status := 400; status < 600; status++ {
		err := &APIError{StatusCode: status}
		v := Classify(err)
		switch {
		case IsRetryable(err):
			require.Equal(t, Retry, v.Action, "status %d", status)
		case IsAuth(err):
			require.Equal(t, Retry, v.Action, "status %d", status)
		default:
			require.Equal(t, Permanent, v.Action, "status %d", status)
		}
	}
}

func TestVerdictString(t *testing.T) {
	t.Parallel()
	require.Equal(t, "permanent: invalid", Verdict{Action: Permanent, Reason: ReasonInvalid}.String())
	require.Equal(t, "retry_later(3s): rate_limited", Verdict{Action: RetryLater, Delay: 3 * time.Second, Reason: ReasonRateLimited}.String())
	require.Equal(t, "retry: unauthorized", Verdict{Action: Retry, Reason: ReasonUnauthorized}.String())
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
