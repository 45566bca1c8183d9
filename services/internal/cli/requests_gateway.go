package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/spf13/cobra"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/services/internal/gateway"
)

// submitViaGateway sends a request through the gateway's POST /v1/events
// (CloudEvents binary mode) instead of NATS, and with --wait lets the
// gateway wait for the answer, asking GET /v1/requests/{id} again while
// --timeout allows (the gateway caps each wait at GATEWAY_WAIT_MAX).
func (f *requestFlags) submitViaGateway(cmd *cobra.Command, base string, ev event.Event, untilTerminal bool) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	token := cmp.Or(f.token, envToken())
	deadline := time.Now().Add(f.timeout)
	q := url.Values{}
	if f.wait {
		q.Set("wait", f.timeout.String())
		if untilTerminal {
			q.Set("until", "terminal")
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/events?"+q.Encode(), bytes.NewReader(ev.Data()))
	if err != nil {
		return err
	}
	h := req.Header
	h.Set("ce-specversion", ev.SpecVersion())
	h.Set("ce-id", events.PercentEncode(ev.ID()))
	h.Set("ce-source", events.PercentEncode(ev.Source()))
	h.Set("ce-type", ev.Type())
	h.Set("ce-time", ev.Time().UTC().Format(time.RFC3339Nano))
	if s := ev.Subject(); s != "" {
		h.Set("ce-subject", events.PercentEncode(s))
	}
	if s := ev.DataSchema(); s != "" {
		h.Set("ce-dataschema", s)
	}
	if tp := events.TraceParent(ev); tp != "" {
		h.Set("traceparent", tp)
	}
	h.Set("Content-Type", events.MediaTypeJSON)
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Timeout: f.timeout + 30*time.Second}
	var p *progress
	if f.wait {
		p = newProgress(cmd.ErrOrStderr(), fmt.Sprintf("waiting for the answer to %s", ev.ID()))
		defer p.finish()
	}
	status, body, err := doHTTP(client, req)
	if err != nil {
		return err
	}
	switch status {
	case http.StatusAccepted:
		var acc gateway.Accepted
		if err := json.Unmarshal(body, &acc); err != nil {
			return fmt.Errorf("gateway: unexpected answer: %w", err)
		}
		if !f.wait {
			if f.output == outputJSON {
				return writeJSON(out, acc)
			}
			fmt.Fprintf(out, "request %s accepted on %s through the gateway\n", acc.RequestID, acc.Subject)
			return nil
		}
		return f.pollGateway(ctx, client, base, token, ev, untilTerminal, deadline, out)
	case http.StatusOK, http.StatusBadRequest, http.StatusUnprocessableEntity:
		fact, ok := factOf(status, body)
		if !ok {
			var e gateway.Error
			_ = json.Unmarshal(body, &e)
			return &ExitCodeError{Code: ExitRejected, Err: fmt.Errorf("invalid request: %s", fieldReason(e))}
		}
		return f.report(out, ev.ID(), ev.Type(), []event.Event{fact}, fact)
	}
	var e gateway.Error
	_ = json.Unmarshal(body, &e)
	return fmt.Errorf("gateway answered %d: %s", status, cmp.Or(fieldReason(e), http.StatusText(status)))
}

// pollGateway asks the gateway for the request's state until it completes
// or the deadline passes.
func (f *requestFlags) pollGateway(ctx context.Context, client *http.Client, base, token string, ev event.Event,
	untilTerminal bool, deadline time.Time, out io.Writer) error {
	for {
		left := time.Until(deadline)
		if left <= 0 {
			st := gateway.RequestStatus{RequestID: ev.ID(), Type: ev.Type(), Status: gateway.RequestPending, Events: []json.RawMessage{}}
			if f.output == outputJSON {
				_ = writeJSON(out, st)
			}
			return &ExitCodeError{Code: ExitTimeout, Err: fmt.Errorf("no answer within %s; request %s is pending", f.timeout, ev.ID())}
		}
		q := url.Values{"wait": {left.Round(time.Second).String()}}
		if untilTerminal {
			q.Set("until", "terminal")
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/requests/"+url.PathEscape(ev.ID())+"?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		status, body, err := doHTTP(client, req)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("gateway answered %d: %s", status, strings.TrimSpace(string(body)))
		}
		var st gateway.RequestStatus
		if err := json.Unmarshal(body, &st); err != nil {
			return fmt.Errorf("gateway: unexpected answer: %w", err)
		}
		var facts []event.Event
		for _, raw := range st.Events {
			var e event.Event
			if json.Unmarshal(raw, &e) == nil {
				facts = append(facts, e)
			}
		}
		for _, fact := range facts {
			if gateway.Completes(fact.Type(), untilTerminal) {
				return f.report(out, ev.ID(), ev.Type(), facts, fact)
			}
		}
	}
}

// report prints the answer to a request and returns its exit.
func (f *requestFlags) report(out io.Writer, id, requestType string, facts []event.Event, final event.Event) error {
	st := statusOf(id, requestType, facts, final, true)
	if f.output == outputJSON {
		if err := writeJSON(out, st); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(out, describe(final))
	}
	return exitFor(st)
}

func doHTTP(client *http.Client, req *http.Request) (int, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("gateway: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("gateway: %w", err)
	}
	return resp.StatusCode, body, nil
}

// factOf reads the completion event of a gateway answer: the body itself
// (200 from /v1/events) or the event of an outcome error (400, 422).
func factOf(status int, body []byte) (event.Event, bool) {
	raw := body
	if status != http.StatusOK {
		var e gateway.Error
		if json.Unmarshal(body, &e) != nil || len(e.Event) == 0 {
			return event.Event{}, false
		}
		raw = e.Event
	}
	var ev event.Event
	if json.Unmarshal(raw, &ev) != nil || ev.Type() == "" {
		return event.Event{}, false
	}
	return ev, true
}

func fieldReason(e gateway.Error) string {
	if e.Field != "" && !strings.Contains(e.Error, e.Field) {
		return e.Field + ": " + e.Error
	}
	return e.Error
}
